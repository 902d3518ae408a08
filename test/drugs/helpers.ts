import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import { packagePath } from '../../src/db/index.js';
import { drugRoutes } from '../../src/http/routes/drugs.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { catalogApplier, formularyApplier } from '../../src/prescribing/catalog-change.applier.js';
import {
  ChangeControlService,
  createChangeApplierRegistry,
  type ChangeApplierRegistry,
} from '../../src/prescribing/change-control.service.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  cookiesOf,
  enrol,
  harness,
  inviteAndEnrol,
  PASSWORD,
  post,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';

/** The small RxNorm release shipped for `scrip demo seed` (demo/rxnorm) is the tests' fixture. */
export const FIXTURE = packagePath('demo', 'rxnorm');

/** Two pharmacists (catalog.manage), a prescriber, support, and a pharmacist of another tenant. */
export interface DrugWorld {
  readonly h: Harness;
  readonly app: FastifyInstance;
  readonly appliers: ChangeApplierRegistry;
  readonly changes: ChangeControlService;
  readonly tenant: TenantId;
  readonly pharmA: Enrolled;
  readonly pharmB: Enrolled;
  readonly prescriber: Enrolled;
  readonly support: Enrolled;
  readonly outsider: Enrolled;
  close(): Promise<void>;
}

export async function drugWorld(): Promise<DrugWorld> {
  const h = await harness();
  const appliers = createChangeApplierRegistry([catalogApplier, formularyApplier]);
  const changes = new ChangeControlService(h.p.db, appliers, h.clock);
  const { app } = await buildTestApp(h.p.db, {
    routes: drugRoutes(h.p.db, changes),
    authenticator: sessionAuthenticator(h.p.identity.sessions),
  });
  const admin = await bootstrapAdmin(h);
  const pharmA = await inviteAndEnrol(h, admin.browser, 'pia@example.test', ['pharmacist']);
  const pharmB = await inviteAndEnrol(h, admin.browser, 'pete@example.test', ['pharmacist']);
  const prescriber = await inviteAndEnrol(h, admin.browser, 'doc@example.test', ['prescriber']);
  const support = await inviteAndEnrol(h, admin.browser, 'sue@example.test', ['support']);
  // Another tenant with its own pharmacist.
  const t2 = asTenantId(randomUUID());
  await h.p.db.withTenant(t2, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
  );
  const link = await h.p.identity.onboarding.invite(t2, 'olga@example.test', ['pharmacist'], {
    kind: 'cli',
  });
  const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
    token: link.token,
    email: 'olga@example.test',
    password: PASSWORD,
    displayName: 'Olga Other',
  });
  expect(acc.statusCode, acc.body).toBe(200);
  const outsider = await enrol(h, cookiesOf(acc));
  return {
    h,
    app,
    appliers,
    changes,
    tenant: asTenantId(admin.tenantId),
    pharmA,
    pharmB,
    prescriber,
    support,
    outsider,
    close: async () => {
      await app.close();
      await h.close();
    },
  };
}
