import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import { patientRoutes } from '../../src/http/routes/patients.routes.js';
import { fhirRoutes } from '../../src/http/routes/fhir.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { decodeBase32Strict, totp } from '../../src/identity/index.js';
import { buildTestApp, type LogCapture } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

export const PASSWORD = 'violet-quarry-Lantern-1987-spoke';

export interface PatientsHarness {
  readonly p: TestPlatform;
  readonly app: FastifyInstance;
  readonly logs: LogCapture;
  readonly clock: ManualClock;
  close(): Promise<void>;
}

/** The patient and FHIR routes over the run's shared database (a fresh tenant per test). */
export async function patientsHarness(): Promise<PatientsHarness> {
  // A weekday afternoon, so no off-hours rule is involved.
  const clock = new ManualClock(Date.UTC(2026, 2, 3, 15, 0, 0));
  const p = await testPlatform(clock);
  const { app, logs } = await buildTestApp(p.db, {
    routes: [...patientRoutes(p.patientServices), ...fhirRoutes(p.patientServices, p.db, clock)],
    authenticator: sessionAuthenticator(p.identity.sessions),
  });
  return {
    p,
    app,
    logs,
    clock,
    close: async () => {
      await app.close();
      await p.close();
    },
  };
}

export interface TestUser {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly role: string;
  /** Cookie session token and its CSRF token. */
  readonly token: string;
  readonly csrf: string;
}

export async function tenant(h: PatientsHarness): Promise<TenantId> {
  return freshTenant(h.p.db);
}

/** A user of `tenantId` with one role, invited, enrolled with TOTP and signed in. */
export async function user(
  h: PatientsHarness,
  tenantId: TenantId,
  role: string,
): Promise<TestUser> {
  const { identity } = h.p;
  const email = `${role.replace(/_/g, '-')}-${randomUUID().slice(0, 8)}@example.test`;
  const link = await identity.onboarding.invite(tenantId, email, [role], { kind: 'cli' });
  const accepted = await identity.onboarding.acceptInvitation(
    link.token,
    { email, password: PASSWORD, displayName: `Test ${role}` },
    {},
  );
  const s = accepted.issued?.session;
  if (s === undefined) throw new Error('no session');
  const caller = { userId: s.userId, tenantId, sessionId: s.id };
  const e = await identity.account.beginTotp(caller);
  const secret = decodeBase32Strict(e.secret);
  if (secret === undefined) throw new Error('bad secret');
  const r = await identity.account.confirmTotp(caller, totp(secret, h.clock.now().getTime()), {});
  return {
    userId: s.userId,
    tenantId,
    role,
    token: r.issued.token,
    csrf: r.issued.csrfToken ?? '',
  };
}

export async function call(
  h: PatientsHarness,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  u: TestUser | undefined,
  payload?: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method,
    url,
    headers:
      u === undefined ? {} : { cookie: `__Host-scrip_session=${u.token}`, 'x-csrf-token': u.csrf },
    ...(payload === undefined ? {} : { payload }),
  });
}

export const PATIENT = {
  givenName: 'Ada',
  familyName: "O'Brien-Müller",
  birthDate: '1961-07-14',
  mrn: 'MRN-0042',
  phone: '+1 (555) 010-0199',
  address: '12 Elm Street, Springfield, CA 90000',
  identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.1', value: '123-45-6789' }],
};

/** Creates a patient with one coded allergy, one medication and a preferred pharmacy. */
export async function seededPatient(
  h: PatientsHarness,
  creator: TestUser,
  demographics: Record<string, unknown> = { ...PATIENT, mrn: `MRN-${randomUUID().slice(0, 8)}` },
): Promise<string> {
  const res = await call(h, 'POST', '/api/v1/patients', creator, {
    ...demographics,
    confirmNotDuplicate: true,
  });
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json<{ id: string }>().id;
  const a = await call(h, 'POST', `/api/v1/patients/${id}/allergies`, creator, {
    rxcui: '7980',
    substance: 'Penicillin G',
    reaction: 'hives',
    severity: 'moderate',
  });
  expect(a.statusCode, a.body).toBe(201);
  const m = await call(h, 'POST', `/api/v1/patients/${id}/medications`, creator, {
    rxcui: '314076',
    ingredientRxcuis: ['29046'],
    name: 'lisinopril 10 MG Oral Tablet',
    dosage: 'one tablet daily',
    startedOn: '2025-01-10',
  });
  expect(m.statusCode, m.body).toBe(201);
  const ph = await call(h, 'PUT', `/api/v1/patients/${id}/pharmacy`, creator, {
    ncpdpId: '0512345',
  });
  expect(ph.statusCode, ph.body).toBe(200);
  return id;
}

/** Audit rows of one tenant as the app role sees them. */
export async function audit(
  h: PatientsHarness,
  tenantId: string,
): Promise<
  {
    action: string;
    outcome: string;
    actor_user_id: string | null;
    subjects: { type: string; id: string }[];
    details: Record<string, unknown>;
    record: string;
  }[]
> {
  return h.p.db.withTenant(asTenantId(tenantId), async (tx) => {
    const { rows } = await tx.query<{
      action: string;
      outcome: string;
      actor_user_id: string | null;
      subjects: { type: string; id: string }[];
      details: Record<string, unknown>;
      record: string;
    }>(
      'SELECT action, outcome, actor_user_id, subjects, details, record FROM audit_log ORDER BY seq',
    );
    return rows;
  });
}
