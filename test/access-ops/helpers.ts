import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import type { AccessBasis } from '../../src/access/patient-access.js';
import type { CatalogPermission } from '../../src/access/permissions.js';
import { accessGrantRoutes } from '../../src/http/routes/access-grants.routes.js';
import { accessReviewRoutes } from '../../src/http/routes/access-reviews.routes.js';
import { accessSettingsRoutes } from '../../src/http/routes/access-settings.routes.js';
import { alertRoutes } from '../../src/http/routes/alerts.routes.js';
import { breakGlassRoutes } from '../../src/http/routes/break-glass.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp, type LogCapture } from '../app.js';
import {
  codeFor,
  cookiesOf,
  enrol,
  headers,
  harness,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';

export interface OpsHarness extends Harness {
  /** The access-operation routes (and alerts), over the same sessions as `app`. */
  readonly ops: FastifyInstance;
  readonly opsLogs: LogCapture;
}

export async function opsHarness(): Promise<OpsHarness> {
  const h = await harness();
  const { app: ops, logs: opsLogs } = await buildTestApp(h.p.db, {
    routes: [
      ...accessGrantRoutes(h.p.accessOps),
      ...breakGlassRoutes(h.p.accessOps),
      ...accessReviewRoutes(h.p.accessOps, h.p.db, h.clock),
      ...accessSettingsRoutes(h.p.db, h.clock),
      ...alertRoutes(h.p.db, h.clock),
    ],
    authenticator: sessionAuthenticator(h.p.identity.sessions),
  });
  return {
    ...h,
    ops,
    opsLogs,
    close: async () => {
      await ops.close();
      await h.close();
    },
  };
}

export async function put(
  app: FastifyInstance,
  url: string,
  b: Browser,
  payload: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'PUT', url, headers: headers(b), payload });
}

/** A patient of `tenantId` (encrypted row); returns its id. */
export async function newPatient(h: Harness, tenantId: string): Promise<string> {
  const t = asTenantId(tenantId);
  return h.p.db.withTenant(t, (tx) =>
    h.p.patients.create(tx, t, { givenName: 'Ana', familyName: 'Lima', birthDate: '1980-02-03' }),
  );
}

/**
 * The relationship checker's basis for `user` on `patientId` now (the one check every patient
 * route uses), holding `need`; undefined when no relationship admits it.
 */
export async function basisOf(
  h: Harness,
  user: Enrolled,
  patientId: string,
  need: CatalogPermission,
): Promise<AccessBasis | undefined> {
  const who = { userId: user.userId, sessionId: '', permissions: new Set([need]), roles: [] };
  return h.p.db.withTenant(asTenantId(user.tenantId), async (tx) =>
    (await h.p.access.patients.bases(tx, who, [patientId], need)).get(patientId),
  );
}

/** A fresh step-up for `action` on the user's session (a new TOTP time step each time). */
export async function stepUp(h: Harness, user: Enrolled, action: string): Promise<void> {
  h.clock.advance(30_000);
  const res = await post(h.app, '/api/v1/auth/step-up', user.browser, {
    action,
    totp: codeFor(user.secret, h.clock),
  });
  expect(res.statusCode, res.body).toBe(200);
}

/** A second tenant with one enrolled user holding `roles` (created through the CLI path). */
export async function otherTenant(
  h: Harness,
  email: string,
  roles: string[],
): Promise<Enrolled & { tenantId: TenantId }> {
  const t = asTenantId(randomUUID());
  await h.p.db.withTenant(t, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t, 'Other clinic']),
  );
  const link = await h.p.identity.onboarding.invite(t, email, roles, { kind: 'cli' });
  const accept = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
    token: link.token,
    email,
    password: PASSWORD,
    displayName: 'Otto Other',
  });
  expect(accept.statusCode, accept.body).toBe(200);
  return { ...(await enrol(h, cookiesOf(accept))), tenantId: t };
}

/** Audit records of a tenant with their subjects. */
export async function auditOf(
  h: Harness,
  tenantId: string,
): Promise<
  { action: string; outcome: string; details: Record<string, unknown>; actor_user_id: string }[]
> {
  return h.p.db.withTenant(asTenantId(tenantId), async (tx) => {
    const { rows } = await tx.query<{
      action: string;
      outcome: string;
      details: Record<string, unknown>;
      actor_user_id: string;
    }>('SELECT action, outcome, details, actor_user_id FROM audit_log ORDER BY seq');
    return rows;
  });
}
