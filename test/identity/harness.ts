import { Type } from '@sinclair/typebox';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { asTenantId, ManualClock } from '../../src/core/index.js';
import type { Tx } from '../../src/db/index.js';
import { decodeBase32Strict } from '../../src/identity/base32.js';
import { totp } from '../../src/identity/totp.js';
import { defineRoute } from '../../src/http/route.js';
import { authRoutes } from '../../src/http/routes/auth.routes.js';
import { ownSessionRoutes } from '../../src/http/routes/own-sessions.routes.js';
import { userRoutes } from '../../src/http/routes/users.routes.js';
import { proofingRoutes } from '../../src/http/routes/proofing.routes.js';
import { webauthnRoutes } from '../../src/http/routes/webauthn.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp, type LogCapture } from '../app.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { testTarget } from '../db.js';

export const PASSWORD = 'violet-quarry-Lantern-1987-spoke';

/** A route protected by a step-up bound to `rx.sign`, and one needing only a full session. */
const probeRoutes = [
  defineRoute({
    method: 'POST',
    url: '/api/v1/test/sign',
    permission: 'authenticated',
    stepUp: 'rx.sign',
    summary: 'test route needing a step-up',
    tags: ['test'],
    schema: { response: { 200: Type.Object({ signed: Type.Boolean() }) } },
    handler: async () => ({ signed: true }),
  }),
  defineRoute({
    method: 'GET',
    url: '/api/v1/test/full',
    permission: 'authenticated',
    summary: 'test route for full sessions',
    tags: ['test'],
    schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
    handler: async () => ({ ok: true }),
  }),
];

export interface Harness {
  readonly p: TestPlatform;
  readonly app: FastifyInstance;
  readonly logs: LogCapture;
  readonly clock: ManualClock;
  close(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  const p = await testPlatform(clock, { isolated: true });
  const { app, logs } = await buildTestApp(p.db, {
    routes: [
      ...authRoutes(p.identity),
      ...ownSessionRoutes(p.identity),
      ...userRoutes(p.identity),
      ...webauthnRoutes(p.identity),
      ...proofingRoutes(p.identity),
      ...probeRoutes,
    ],
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

/** A browser's view of one signed-in tab: the two cookies. */
export interface Browser {
  session: string;
  csrf: string;
}

export function cookiesOf(res: LightMyRequestResponse): Browser {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const get = (name: string): string => {
    const line = list.find((l) => l.startsWith(`${name}=`));
    expect(line, name).toBeDefined();
    return (line ?? '').slice(name.length + 1).split(';')[0] ?? '';
  };
  return { session: get('__Host-scrip_session'), csrf: get('__Host-scrip_csrf') };
}

export function headers(b: Browser, csrf = true): Record<string, string> {
  return {
    cookie: `__Host-scrip_session=${b.session}; __Host-scrip_csrf=${b.csrf}`,
    ...(csrf ? { 'x-csrf-token': b.csrf } : {}),
  };
}

export async function post(
  app: FastifyInstance,
  url: string,
  b: Browser | undefined,
  payload?: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    headers: b === undefined ? {} : headers(b),
    ...(payload === undefined ? {} : { payload }),
  });
}

export async function get(
  app: FastifyInstance,
  url: string,
  b: Browser | undefined,
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers: b === undefined ? {} : headers(b, false) });
}

export function codeFor(secret: string, clock: ManualClock): string {
  const bytes = decodeBase32Strict(secret);
  if (bytes === undefined) throw new TypeError('bad secret');
  return totp(bytes, clock.now().getTime());
}

export interface Enrolled {
  readonly browser: Browser;
  readonly secret: string;
  readonly recoveryCodes: string[];
  readonly userId: string;
  readonly tenantId: string;
}

/** Enrols TOTP from an enrolment-only session; returns the full session that replaces it. */
export async function enrol(h: Harness, restricted: Browser): Promise<Enrolled> {
  const begin = await post(h.app, '/api/v1/auth/totp/enrol', restricted);
  expect(begin.statusCode, begin.body).toBe(200);
  const { secret, otpauthUri, qrSvg } = begin.json<{
    secret: string;
    otpauthUri: string;
    qrSvg: string;
  }>();
  expect(otpauthUri).toContain(`secret=${secret}`);
  expect(qrSvg).toMatch(/^<svg/);
  const confirm = await post(h.app, '/api/v1/auth/totp/confirm', restricted, {
    code: codeFor(secret, h.clock),
  });
  expect(confirm.statusCode, confirm.body).toBe(200);
  const body = confirm.json<{
    status: string;
    recoveryCodes: string[];
    userId: string;
    tenantId: string;
  }>();
  expect(body.status).toBe('signed_in');
  expect(body.recoveryCodes).toHaveLength(10);
  h.clock.advance(30_000); // the next code is a new time step
  return {
    browser: cookiesOf(confirm),
    secret,
    recoveryCodes: body.recoveryCodes,
    userId: body.userId,
    tenantId: body.tenantId,
  };
}

/** Bootstraps the first tenant and administrator and enrols their TOTP. */
export async function bootstrapAdmin(
  h: Harness,
  email = 'admin@example.test',
): Promise<Enrolled & { token: string }> {
  const link = await h.p.identity.onboarding.issueBootstrap();
  expect(link).toBeDefined();
  const token = link?.token ?? '';
  const res = await post(h.app, '/api/v1/auth/bootstrap', undefined, {
    token,
    tenantName: 'First Clinic',
    email,
    password: PASSWORD,
    displayName: 'Ada Admin',
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json<{ status: string }>().status).toBe('enrolment_required');
  return { ...(await enrol(h, cookiesOf(res))), token };
}

/** Invites `email` into the admin's tenant and accepts it; returns the enrolled user. */
export async function inviteAndEnrol(
  h: Harness,
  admin: Browser,
  email: string,
  roles: string[] = ['prescriber'],
): Promise<Enrolled> {
  const inv = await post(h.app, '/api/v1/users/invitations', admin, { email, roles });
  expect(inv.statusCode, inv.body).toBe(201);
  const accept = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
    token: inv.json<{ token: string }>().token,
    email,
    password: PASSWORD,
    displayName: 'Pat Prescriber',
  });
  expect(accept.statusCode, accept.body).toBe(200);
  return enrol(h, cookiesOf(accept));
}

export async function login(
  h: Harness,
  email: string,
  extra: Record<string, unknown>,
  password = PASSWORD,
): Promise<LightMyRequestResponse> {
  return post(h.app, '/api/v1/auth/login', undefined, { email, password, ...extra });
}

/** Audit records of one tenant (or platform records, tenantId null) as the app role sees them. */
export async function auditActions(
  h: Harness,
  tenantId: string | null,
): Promise<{ action: string; outcome: string; details: Record<string, unknown> }[]> {
  const q = async (
    tx: Tx,
  ): Promise<{ action: string; outcome: string; details: Record<string, unknown> }[]> =>
    (
      await tx.query<{ action: string; outcome: string; details: Record<string, unknown> }>(
        'SELECT action, outcome, details FROM audit_log ORDER BY seq',
      )
    ).rows;
  return tenantId === null ? h.p.db.withoutTenant(q) : h.p.db.withTenant(asTenantId(tenantId), q);
}

/** The owner's connection string for the harness's scratch database. */
export function ownerUrlOf(h: Harness): string {
  const app = new URL(
    (h.p.db.pool as unknown as { options: { connectionString: string } }).options.connectionString,
  );
  const owner = new URL(testTarget().ownerUrl);
  owner.pathname = app.pathname;
  return owner.toString();
}
