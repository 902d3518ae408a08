import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import { packagePath } from '../../src/db/index.js';
import { drugRoutes } from '../../src/http/routes/drugs.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import type {
  ChangeApplierRegistry,
  ChangeControlService,
} from '../../src/prescribing/change-control.service.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  harness,
  inviteAndEnrol,
  PASSWORD,
  post,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';

/**
 * Decides a change proposal over HTTP as `who`: a fresh step-up (catalog.change.decide, a new
 * TOTP step) and the approve or reject call on `app`.
 */
export async function decideProposal(
  h: Harness,
  app: FastifyInstance,
  who: Enrolled,
  url: string,
  payload: Record<string, unknown> = {},
): Promise<LightMyRequestResponse> {
  await stepUpToDecide(h, who);
  return post(app, url, who.browser, payload);
}

/** A fresh step-up for deciding change proposals (catalog.change.decide). */
export async function stepUpToDecide(h: Harness, who: Enrolled): Promise<void> {
  h.clock.advance(30_000);
  const res = await post(h.app, '/api/v1/auth/step-up', who.browser, {
    action: 'catalog.change.decide',
    totp: codeFor(who.secret, h.clock),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

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
  // The platform's change control: every kind registered as `scrip serve` registers them.
  const appliers = h.p.changeAppliers;
  const changes = h.p.changes;
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
