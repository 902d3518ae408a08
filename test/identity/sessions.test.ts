import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerClient } from '../db.js';
import {
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  get,
  harness,
  headers,
  inviteAndEnrol,
  login,
  ownerUrlOf,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from './harness.js';

describe('identity: sessions, step-up, CSRF, sign-out', () => {
  let h: Harness;
  let admin: Enrolled;
  let user: Enrolled;
  const seen = { tokens: [] as string[] };

  const signIn = async (who: Enrolled, email: string): Promise<Browser> => {
    const res = await login(h, email, { totp: codeFor(who.secret, h.clock) });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
    const b = cookiesOf(res);
    seen.tokens.push(b.session, b.csrf);
    return b;
  };

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    user = await inviteAndEnrol(h, admin.browser, 'user@example.test');
    seen.tokens.push(admin.browser.session, admin.browser.csrf, user.browser.session);
  });
  afterAll(async () => {
    await h.close();
  });

  it('idle timeout (15 min) and absolute lifetime (12 h) through the Clock', async () => {
    const b = await signIn(user, 'user@example.test');
    h.clock.advance(14 * 60_000);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(200);
    h.clock.advance(14 * 60_000);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(200);
    h.clock.advance(15 * 60_000 + 1);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(401);
    const c = await signIn(user, 'user@example.test');
    for (let i = 0; i < 12 * 6; i++) {
      h.clock.advance(10 * 60_000);
      const r = await get(h.app, '/api/v1/test/full', c);
      if (i < 12 * 6 - 1) expect(r.statusCode, `after ${(i + 1) * 10} min`).toBe(200);
      else expect(r.statusCode).toBe(401);
    }
  });

  it('step-up: required, satisfied once for its action, expires after 5 minutes', async () => {
    const b = await signIn(user, 'user@example.test');
    const sign = () => post(h.app, '/api/v1/test/sign', b);
    const first = await sign();
    expect(first.statusCode).toBe(403);
    expect(first.json()).toMatchObject({ code: 'step_up_required', detail: 'rx.sign' });
    const stepUp = async (action: string) => {
      const r = await post(h.app, '/api/v1/auth/step-up', b, {
        action,
        totp: codeFor(user.secret, h.clock),
      });
      h.clock.advance(30_000);
      return r;
    };
    // Bound to its action: a step-up for something else does not count.
    expect((await stepUp('auth.recovery_codes.regenerate')).statusCode).toBe(200);
    expect((await sign()).statusCode).toBe(403);
    expect((await stepUp('rx.sign')).statusCode).toBe(200);
    expect((await sign()).statusCode).toBe(200);
    expect((await sign()).statusCode).toBe(403); // consumed
    expect((await stepUp('rx.sign')).statusCode).toBe(200);
    h.clock.advance(5 * 60_000);
    expect((await sign()).statusCode).toBe(403); // expired
    // A wrong code is refused and audited.
    const wrong = await post(h.app, '/api/v1/auth/step-up', b, {
      action: 'rx.sign',
      totp: '000000',
    });
    expect(wrong.statusCode).toBe(400);
    // The route-declared step-up on recovery codes.
    expect((await post(h.app, '/api/v1/auth/recovery-codes', b)).statusCode).toBe(403);
    expect((await stepUp('auth.recovery_codes.regenerate')).statusCode).toBe(200);
    const codes = await post(h.app, '/api/v1/auth/recovery-codes', b);
    expect(codes.statusCode).toBe(200);
    expect(codes.json<{ recoveryCodes: string[] }>().recoveryCodes).toHaveLength(10);
    expect(codes.headers['cache-control']).toBe('no-store');
  });

  it('CSRF: a cookie-authenticated POST needs the matching X-CSRF-Token', async () => {
    const b = await signIn(user, 'user@example.test');
    const noToken = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: headers(b, false),
    });
    expect(noToken.statusCode).toBe(403);
    expect(noToken.json()).toMatchObject({ code: 'forbidden', detail: 'csrf' });
    const other = await signIn(user, 'user@example.test');
    const crossed = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { ...headers(b, false), 'x-csrf-token': other.csrf },
    });
    expect(crossed.statusCode).toBe(403);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(200);
    expect((await post(h.app, '/api/v1/auth/logout', b)).statusCode).toBe(200);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(401);
    expect((await get(h.app, '/api/v1/test/full', other)).statusCode).toBe(200);
  });

  it('bearer tokens: no CSRF needed, at most 15 minutes, end with their session', async () => {
    const b = await signIn(user, 'user@example.test');
    const issued = await post(h.app, '/api/v1/auth/tokens', b);
    expect(issued.statusCode).toBe(200);
    const { token } = issued.json<{ token: string }>();
    seen.tokens.push(token);
    const auth = { authorization: `Bearer ${token}` };
    expect(
      (await h.app.inject({ method: 'GET', url: '/api/v1/test/full', headers: auth })).statusCode,
    ).toBe(200);
    // A bearer token is not a cookie and vice versa.
    expect((await get(h.app, '/api/v1/test/full', { session: token, csrf: '' })).statusCode).toBe(
      401,
    );
    h.clock.advance(15 * 60_000);
    expect(
      (await h.app.inject({ method: 'GET', url: '/api/v1/test/full', headers: auth })).statusCode,
    ).toBe(401);
    const again = (
      await post(h.app, '/api/v1/auth/tokens', await signIn(user, 'user@example.test'))
    ).json<{ token: string }>().token;
    const auth2 = { authorization: `Bearer ${again}` };
    const out = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: auth2 });
    expect(out.statusCode).toBe(200);
  });

  it('sign out everywhere; an administrator ends a user’s sessions; no cross-tenant reach', async () => {
    const a = await signIn(user, 'user@example.test');
    const b = await signIn(user, 'user@example.test');
    const all = await post(h.app, '/api/v1/auth/logout-all', a);
    expect(all.json<{ ended: number }>().ended).toBeGreaterThanOrEqual(2);
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(401);

    const c = await signIn(user, 'user@example.test');
    const adminB = await signIn(admin, 'admin@example.test');
    // A user without user.admin cannot list or end sessions.
    expect((await get(h.app, '/api/v1/users', c)).statusCode).toBe(403);
    expect((await post(h.app, `/api/v1/users/${admin.userId}/sessions/end`, c)).statusCode).toBe(
      403,
    );
    const list = await get(h.app, '/api/v1/users', adminB);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toMatch(/argon2|password|secret/i);
    const end = await post(h.app, `/api/v1/users/${user.userId}/sessions/end`, adminB);
    expect(end.json<{ ended: number }>().ended).toBeGreaterThanOrEqual(1);
    expect((await get(h.app, '/api/v1/test/full', c)).statusCode).toBe(401);
    // Another tenant's administrator sees neither the users nor can end their sessions.
    const other = await h.p.identity.onboarding.invite(
      await (async () => {
        const { freshTenant } = await import('../db.js');
        return freshTenant(h.p.db, 'Other clinic');
      })(),
      'other-admin@example.test',
      ['tenant_admin'],
      { kind: 'cli' },
    );
    const accepted = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: other.token,
      email: 'other-admin@example.test',
      password: PASSWORD,
      displayName: 'Otto Other',
    });
    const otherAdmin = await (await import('./harness.js')).enrol(h, cookiesOf(accepted));
    const otherList = await get(h.app, '/api/v1/users', otherAdmin.browser);
    expect(otherList.json<{ users: { email: string }[] }>().users.map((u) => u.email)).toEqual([
      'other-admin@example.test',
    ]);
    const cross = await post(
      h.app,
      `/api/v1/users/${user.userId}/sessions/end`,
      otherAdmin.browser,
    );
    expect(cross.statusCode).toBe(404);
  });

  it('no secret is readable in the database (raw rows as owner) or in the logs', async () => {
    const c = await ownerClient(ownerUrlOf(h));
    let dump = '';
    try {
      await c.query('BEGIN');
      await c.query("SELECT set_config('scrip.backup_reader', 'on', true)");
      const tables = await c.query<{ relname: string }>(
        `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`,
      );
      for (const { relname } of tables.rows) {
        const rows = await c.query<{ r: string }>(
          `SELECT t::text AS r FROM ${c.escapeIdentifier(relname)} t`,
        );
        dump += rows.rows.map((r) => r.r).join('\n');
      }
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
    expect(dump).toContain('user@example.test'); // the scan does see the tables
    const secrets = [
      PASSWORD,
      user.secret,
      admin.secret,
      Buffer.from(user.secret).toString('hex'),
      ...user.recoveryCodes,
      ...user.recoveryCodes.map((r) => r.replace(/-/g, '')),
      ...seen.tokens,
    ];
    const logs = h.logs.text;
    expect(logs.length).toBeGreaterThan(0);
    for (const s of secrets) {
      expect(dump.includes(s), `database holds ${s.slice(0, 6)}…`).toBe(false);
      expect(logs.includes(s), `logs hold ${s.slice(0, 6)}…`).toBe(false);
    }
  });
});
