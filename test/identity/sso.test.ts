import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, cryptoRandom, ManualClock } from '../../src/core/index.js';
import { composeSso, MfaService } from '../../src/identity/index.js';
import { defineRoute } from '../../src/http/route.js';
import { authRoutes } from '../../src/http/routes/auth.routes.js';
import { ssoRoutes } from '../../src/http/routes/sso.routes.js';
import { userRoutes } from '../../src/http/routes/users.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import { freshTenant, ownerClient } from '../db.js';
import { testPlatform } from '../platform.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  get,
  headers,
  inviteAndEnrol,
  ownerUrlOf,
  post,
  type Enrolled,
  type Harness,
} from './harness.js';
import { LoopbackIdp } from './oidc-idp.js';

const REDIRECT = 'https://scrip.test/api/v1/auth/sso/callback';

const probe = defineRoute({
  method: 'GET',
  url: '/api/v1/test/full',
  permission: 'authenticated',
  summary: 'test route for full sessions',
  tags: ['test'],
  schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
  handler: async () => ({ ok: true }),
});

function setCookies(res: LightMyRequestResponse): string[] {
  const raw = res.headers['set-cookie'];
  return Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
}

function cookieValue(res: LightMyRequestResponse, name: string): string | undefined {
  const line = setCookies(res).find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';')[0];
}

describe('SSO with OpenID Connect against a real provider on loopback', () => {
  let h: Harness;
  let idp: LoopbackIdp;
  let admin: Enrolled;
  let pat: Enrolled;

  beforeAll(async () => {
    idp = await LoopbackIdp.start([REDIRECT]);
    const clock = new ManualClock(Date.now());
    const p = await testPlatform(clock, { isolated: true });
    // The same services as production, with an HTTP client that trusts the test IdP's CA.
    const { sso, ssoConfig, ssoDomains } = composeSso(
      p.db,
      p.keyring,
      clock,
      cryptoRandom,
      p.identity.sessions,
      new MfaService(p.keyring, clock, cryptoRandom, 'Scrip'),
      { onRecoveryCodeUsed: async () => undefined },
      { fetch: idp.fetch },
    );
    const { app, logs } = await buildTestApp(p.db, {
      routes: [
        ...authRoutes(p.identity),
        ...userRoutes(p.identity),
        ...ssoRoutes(sso, ssoConfig, ssoDomains),
        probe,
      ],
      authenticator: sessionAuthenticator(p.identity.sessions),
    });
    h = {
      p,
      app,
      logs,
      clock,
      close: async () => {
        await app.close();
        await p.close();
      },
    };
    admin = await bootstrapAdmin(h);
    pat = await inviteAndEnrol(h, admin.browser, 'pat@example.test');
  });
  afterAll(async () => {
    await h.close();
    await idp.close();
  });

  async function stepUp(who: Enrolled, action: string): Promise<void> {
    const res = await post(h.app, '/api/v1/auth/step-up', who.browser, {
      action,
      totp: codeFor(who.secret, h.clock),
    });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
  }

  async function configure(extra: Record<string, unknown> = {}): Promise<LightMyRequestResponse> {
    await stepUp(admin, 'sso.config.change');
    return h.app.inject({
      method: 'PUT',
      url: '/api/v1/sso/config',
      headers: headers(admin.browser),
      payload: {
        issuer: idp.issuer,
        clientId: idp.clientId,
        redirectUri: REDIRECT,
        trustIdpMfa: true,
        trustedAmr: ['mfa', 'otp', 'hwk', 'swk'],
        ...extra,
      },
    });
  }

  /** Start at Scrip, sign in at the IdP, come back: the callback's answer. */
  async function ssoLogin(
    tenantId: string,
    options: { rewriteAuthUrl?: (u: URL) => void; rewriteCallback?: (u: URL) => void } = {},
  ): Promise<{ res: LightMyRequestResponse; callbackPath: string; binding: string }> {
    const start = await h.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${tenantId}/start` });
    expect(start.statusCode, start.body).toBe(302);
    const binding = cookieValue(start, '__Host-scrip_sso_tx') ?? '';
    const authUrl = new URL(String(start.headers.location));
    expect(authUrl.origin).toBe(idp.issuer);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('nonce')).toBeTruthy();
    options.rewriteAuthUrl?.(authUrl);
    const back = await idp.browser().authorize(authUrl.href);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    options.rewriteCallback?.(back);
    const callbackPath = back.pathname + back.search;
    const res = await callback(callbackPath, binding);
    return { res, callbackPath, binding };
  }

  function callback(path: string, binding: string): Promise<LightMyRequestResponse> {
    return h.app.inject({
      method: 'GET',
      url: path,
      headers: { cookie: `__Host-scrip_sso_tx=${binding}` },
    });
  }

  it('an administrator configures the IdP with a step-up; https only; the secret never comes back', async () => {
    const noStepUp = await h.app.inject({
      method: 'PUT',
      url: '/api/v1/sso/config',
      headers: headers(admin.browser),
      payload: { issuer: idp.issuer, clientId: 'x', clientSecret: 's', redirectUri: REDIRECT },
    });
    expect(noStepUp.statusCode).toBe(403);
    expect(noStepUp.json()).toMatchObject({ code: 'step_up_required' });

    const plain = await configure({
      issuer: idp.issuer.replace('https:', 'http:'),
      clientSecret: idp.clientSecret,
    });
    expect(plain.statusCode).toBe(400);
    expect(plain.json()).toMatchObject({ detail: 'issuer: must be an https:// URL' });

    const ok = await configure({ clientSecret: idp.clientSecret });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ issuer: idp.issuer, clientSecretSet: true, enabled: true });
    const view = await get(h.app, '/api/v1/sso/config', admin.browser);
    expect(view.statusCode).toBe(200);
    for (const text of [ok.body, view.body, h.logs.text]) {
      expect(text).not.toContain(idp.clientSecret);
    }
    const audit = await auditActions(h, admin.tenantId);
    const change = audit.filter((a) => a.action === 'auth.sso.config.change');
    expect(change).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(idp.clientSecret);
    // A prescriber may not read or change it.
    expect((await get(h.app, '/api/v1/sso/config', pat.browser)).statusCode).toBe(403);
  });

  it('a signed-in user links an IdP identity (step-up); IdP MFA trusted gives a full session', async () => {
    const noStepUp = await post(h.app, '/api/v1/auth/sso/link', pat.browser);
    expect(noStepUp.statusCode).toBe(403);
    await stepUp(pat, 'auth.sso.link');
    const link = await post(h.app, '/api/v1/auth/sso/link', pat.browser);
    expect(link.statusCode, link.body).toBe(200);
    const binding = cookieValue(link, '__Host-scrip_sso_tx') ?? '';
    idp.next = { sub: 'pat-at-idp' };
    const back = await idp
      .browser()
      .authorize(link.json<{ authorizationUrl: string }>().authorizationUrl);
    const linked = await callback(back.pathname + back.search, binding);
    expect(linked.statusCode, linked.body).toBe(200);
    expect(linked.json()).toEqual({ status: 'linked' });

    idp.next = { sub: 'pat-at-idp', amr: ['pwd', 'mfa'] };
    const { res } = await ssoLogin(admin.tenantId);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'signed_in', userId: pat.userId });
    const full = await get(h.app, '/api/v1/test/full', cookiesOf(res));
    expect(full.statusCode).toBe(200);
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['auth.sso.link', 'auth.sso.login.success']),
    );
    expect(audit.find((a) => a.action === 'auth.sso.login.success')?.details).toMatchObject({
      factor: 'idp_mfa',
    });
  });

  it('without IdP MFA the local TOTP is required before any session is issued', async () => {
    idp.next = { sub: 'pat-at-idp', amr: ['pwd'] };
    const { res } = await ssoLogin(admin.tenantId);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'mfa_required' });
    expect(cookieValue(res, '__Host-scrip_session')).toBeUndefined();
    const pending = cookieValue(res, '__Host-scrip_sso_pending') ?? '';
    const complete = (payload: Record<string, string>): Promise<LightMyRequestResponse> =>
      h.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sso/complete',
        headers: { cookie: `__Host-scrip_sso_pending=${pending}` },
        payload,
      });
    expect((await complete({ totp: '000000' })).statusCode).toBe(401);
    const done = await complete({ totp: codeFor(pat.secret, h.clock) });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ status: 'signed_in', userId: pat.userId });
    expect((await get(h.app, '/api/v1/test/full', cookiesOf(done))).statusCode).toBe(200);
    h.clock.advance(30_000);
    // The pending step is single use.
    expect((await complete({ totp: codeFor(pat.secret, h.clock) })).statusCode).toBe(401);
  });

  it('an unknown subject is refused while auto-create is off, and becomes a staff member when on', async () => {
    idp.accounts.set('newbie', { email: 'newbie@example.test', name: 'Nia Newbie' });
    idp.next = { sub: 'newbie', amr: ['pwd'] };
    const refused = (await ssoLogin(admin.tenantId)).res;
    expect(refused.statusCode).toBe(401);
    expect(cookieValue(refused, '__Host-scrip_session')).toBeUndefined();
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action === 'auth.sso.login.failure').at(-1)?.details).toEqual({
      reason: 'unknown_subject',
    });

    expect((await configure({ allowAutoCreate: true })).statusCode).toBe(200);
    const created = (await ssoLogin(admin.tenantId)).res;
    expect(created.statusCode, created.body).toBe(200);
    // No factor yet and no IdP MFA: an enrolment-only session, as for a password sign-in.
    expect(created.json()).toMatchObject({ status: 'enrolment_required' });
    const users = await get(h.app, '/api/v1/users', admin.browser);
    const newbie = users
      .json<{ users: { email: string; roles: string[] }[] }>()
      .users.find((u) => u.email === 'newbie@example.test');
    expect(newbie?.roles).toEqual(['staff']);
    // An IdP email that belongs to an existing account is never attached to it implicitly.
    idp.accounts.set('impostor', { email: 'pat@example.test' });
    idp.next = { sub: 'impostor', amr: ['mfa'] };
    expect((await ssoLogin(admin.tenantId)).res.statusCode).toBe(401);
    expect((await configure({ allowAutoCreate: false })).statusCode).toBe(200);
  });

  it('refuses a replayed state, a foreign browser, a wrong nonce, a wrong issuer and a tampered ID token', async () => {
    idp.next = { sub: 'pat-at-idp', amr: ['mfa'] };
    const first = await ssoLogin(admin.tenantId);
    expect(first.res.statusCode).toBe(200);
    const replay = await callback(first.callbackPath, first.binding);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ code: 'unauthenticated' });

    // A callback arriving in another browser than the one that started the flow (login CSRF).
    const start = await h.app.inject({
      method: 'GET',
      url: `/api/v1/auth/sso/${admin.tenantId}/start`,
    });
    const back = await idp.browser().authorize(String(start.headers.location));
    expect((await callback(back.pathname + back.search, 'x'.repeat(43))).statusCode).toBe(401);

    const nonce = await ssoLogin(admin.tenantId, {
      rewriteAuthUrl: (u) => {
        u.searchParams.set('nonce', 'attacker-chosen-nonce-value-123');
      },
    });
    expect(nonce.res.statusCode).toBe(401);
    const iss = await ssoLogin(admin.tenantId, {
      rewriteCallback: (u) => {
        u.searchParams.set('iss', 'https://evil.example');
      },
    });
    expect(iss.res.statusCode).toBe(401);
    idp.tamperIdToken = (jwt) => {
      const [head = '', body = '', sig = ''] = jwt.split('.');
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { sub: string };
      claims.sub = 'someone-else';
      return [head, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
    };
    try {
      expect((await ssoLogin(admin.tenantId)).res.statusCode).toBe(401);
    } finally {
      idp.tamperIdToken = undefined;
    }
    // Each refusal failed at the check it was aimed at (audit reason and the library's check).
    const failures = (await auditActions(h, admin.tenantId))
      .filter((a) => a.action === 'auth.sso.login.failure')
      .slice(-5)
      .map((a) =>
        `${String(a.details.reason)} ${typeof a.details.check === 'string' ? a.details.check : ''}`.trim(),
      );
    expect(failures).toEqual([
      'state_used_or_expired',
      'browser_mismatch',
      'OAUTH_JWT_CLAIM_COMPARISON_FAILED unexpected ID Token "nonce" claim value',
      'OAUTH_INVALID_RESPONSE unexpected "iss" (issuer) response parameter value',
      'OAUTH_INVALID_RESPONSE JWT signature verification failed',
    ]);
  });

  it("another tenant cannot use this tenant's IdP or links", async () => {
    const other = await freshTenant(h.p.db, 'Other clinic');
    const none = await h.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${other}/start` });
    expect(none.statusCode).toBe(404);
    const unknown = await h.app.inject({
      method: 'GET',
      url: `/api/v1/auth/sso/${randomUUID()}/start`,
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: none.json<{ code: string }>().code });
    // The other tenant configures the same IdP: Pat's link in the first tenant does not carry over.
    await h.p.identity.ssoConfig.put(
      { userId: randomUUID(), tenantId: asTenantId(other), sessionId: randomUUID() },
      {
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        redirectUri: REDIRECT,
        allowAutoCreate: false,
        defaultRole: 'staff',
        trustIdpMfa: true,
        trustedAmr: ['mfa'],
        trustedAcr: [],
        enabled: true,
      },
      {},
    );
    idp.next = { sub: 'pat-at-idp', amr: ['mfa'] };
    expect((await ssoLogin(other)).res.statusCode).toBe(401);
    const otherAudit = await auditActions(h, other);
    expect(otherAudit.filter((a) => a.action === 'auth.sso.login.failure').at(-1)?.details).toEqual(
      { reason: 'unknown_subject' },
    );
    // A state issued for one tenant signs in to that tenant only: the transaction carries it.
    idp.next = { sub: 'pat-at-idp', amr: ['mfa'] };
    const own = (await ssoLogin(admin.tenantId)).res;
    expect(own.json()).toMatchObject({ status: 'signed_in', tenantId: admin.tenantId });
  });

  it('no client secret, state or code in the logs; the secret is sealed in the database', async () => {
    expect(h.logs.text).not.toContain(idp.clientSecret);
    expect(h.logs.text).not.toMatch(/[?&](code|state)=/);
    const c = await ownerClient(ownerUrlOf(h));
    let dump = '';
    try {
      await c.query('BEGIN');
      await c.query("SELECT set_config('scrip.backup_reader', 'on', true)");
      for (const t of ['sso_providers', 'sso_transactions', 'audit_log']) {
        const rows = await c.query<{ r: string }>(`SELECT x::text AS r FROM ${t} x`);
        dump += rows.rows.map((r) => r.r).join('\n');
      }
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
    expect(dump).toContain(idp.issuer); // the scan does see the rows
    expect(dump).not.toContain(idp.clientSecret);
    expect(dump).not.toContain(Buffer.from(idp.clientSecret).toString('hex'));
  });
});
