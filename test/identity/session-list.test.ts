import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import {
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  get,
  harness,
  headers,
  inviteAndEnrol,
  PASSWORD,
  type Browser,
  type Enrolled,
  type Harness,
} from './harness.js';

interface Listed {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

describe('identity: the list of my sessions, ending one of them', () => {
  let h: Harness;
  let admin: Enrolled;
  let user: Enrolled;
  const tokens: string[] = [];

  /** A password + TOTP sign-in from a given device (user agent and source address). */
  const signIn = async (
    who: Enrolled,
    email: string,
    userAgent: string,
    remoteAddress: string,
  ): Promise<Browser & { id: string }> => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'user-agent': userAgent },
      remoteAddress,
      payload: { email, password: PASSWORD, totp: codeFor(who.secret, h.clock) },
    });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
    const b = cookiesOf(res);
    tokens.push(b.session, b.csrf);
    const me = await get(h.app, '/api/v1/auth/session', b);
    return { ...b, id: me.json<{ sessionId: string }>().sessionId };
  };

  const list = async (b: Browser): Promise<LightMyRequestResponse> =>
    get(h.app, '/api/v1/auth/sessions', b);
  const listed = async (b: Browser): Promise<Listed[]> => {
    const res = await list(b);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ sessions: Listed[] }>().sessions;
  };
  const end = async (b: Browser, id: string, csrf = true): Promise<LightMyRequestResponse> =>
    h.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${id}`,
      headers: headers(b, csrf),
    });
  const revokedAudits = async (): Promise<
    { actor_session_id: string; subjects: { type: string; id: string }[]; details: object }[]
  > =>
    h.p.db.withTenant(asTenantId(user.tenantId), async (tx) => {
      const { rows } = await tx.query<{
        actor_session_id: string;
        subjects: { type: string; id: string }[];
        details: object;
      }>(
        `SELECT actor_session_id, subjects, details FROM audit_log
          WHERE action = 'auth.session.revoked' ORDER BY seq`,
      );
      return rows;
    });

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    user = await inviteAndEnrol(h, admin.browser, 'user@example.test');
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists my live cookie sessions with device and address, newest first, marking this one', async () => {
    // The session from enrolment (invitation, then TOTP confirm) is one of the user's sessions too.
    const enrolled = await listed(user.browser);
    expect(enrolled).toHaveLength(1);
    expect(enrolled[0]?.current).toBe(true);

    const laptop = await signIn(user, 'user@example.test', FIREFOX, '192.0.2.10');
    const phone = await signIn(user, 'user@example.test', SAFARI, '2001:db8::7');
    const res = await list(laptop);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const fromLaptop = res.json<{ sessions: Listed[] }>().sessions;
    expect(fromLaptop.map((s) => s.id)).toEqual([phone.id, laptop.id, enrolled[0]?.id]);
    expect(fromLaptop.map((s) => s.current)).toEqual([false, true, false]);
    expect(fromLaptop[0]).toMatchObject({ userAgent: SAFARI, ip: '2001:db8::7' });
    expect(fromLaptop[1]).toMatchObject({ userAgent: FIREFOX, ip: '192.0.2.10' });
    const l = fromLaptop[1];
    expect(Date.parse(l?.idleExpiresAt ?? '')).toBeGreaterThan(h.clock.now().getTime());
    expect(Date.parse(l?.absoluteExpiresAt ?? '')).toBeGreaterThan(h.clock.now().getTime());
    expect(Date.parse(l?.lastSeenAt ?? '')).toBeGreaterThanOrEqual(Date.parse(l?.createdAt ?? ''));
    expect(Object.keys(l ?? {}).sort()).toEqual(
      [
        'absoluteExpiresAt',
        'createdAt',
        'current',
        'id',
        'idleExpiresAt',
        'ip',
        'lastSeenAt',
        'userAgent',
      ].sort(),
    );
    // The phone sees the same list with itself marked.
    expect((await listed(phone)).map((s) => s.current)).toEqual([true, false, false]);
    // No token, CSRF token or hash in the answer.
    for (const t of tokens) expect(res.body.includes(t)).toBe(false);
    expect(res.body).not.toMatch(/hash|token/i);
    // The administrator's sessions are not in the user's list, nor the user's in theirs.
    const adminList = await listed(admin.browser);
    expect(adminList.map((s) => s.id)).not.toContain(laptop.id);
    expect(fromLaptop.map((s) => s.id)).not.toContain(adminList[0]?.id);
  });

  it('a bearer token is not listed; its parent session is the current one', async () => {
    const b = await signIn(user, 'user@example.test', FIREFOX, '192.0.2.11');
    const issued = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/tokens',
      headers: headers(b),
    });
    const { token } = issued.json<{ token: string }>();
    tokens.push(token);
    const res = await h.app.inject({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const sessions = res.json<{ sessions: Listed[] }>().sessions;
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([b.id]);
    expect(sessions.every((s) => s.userAgent !== null)).toBe(true);
    // Ending the parent ends the bearer token with it.
    const other = await signIn(user, 'user@example.test', SAFARI, '192.0.2.12');
    expect((await end(other, b.id)).statusCode).toBe(200);
    const after = await h.app.inject({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(after.statusCode).toBe(401);
  });

  it('ends another of my sessions: it stops working, leaves the list, and is audited', async () => {
    const mine = await signIn(user, 'user@example.test', FIREFOX, '192.0.2.20');
    const other = await signIn(user, 'user@example.test', SAFARI, '192.0.2.21');
    const before = await listed(mine);
    const auditsBefore = (await revokedAudits()).length;

    // CSRF is required for a cookie session, and a missing token changes nothing.
    const noCsrf = await end(mine, other.id, false);
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json()).toMatchObject({ code: 'forbidden', detail: 'csrf' });
    expect((await get(h.app, '/api/v1/test/full', other)).statusCode).toBe(200);

    const res = await end(mine, other.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ok: true, current: false });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await get(h.app, '/api/v1/test/full', other)).statusCode).toBe(401);
    expect((await get(h.app, '/api/v1/test/full', mine)).statusCode).toBe(200);
    const after = await listed(mine);
    expect(after.map((s) => s.id)).toEqual(before.map((s) => s.id).filter((id) => id !== other.id));

    const audits = await revokedAudits();
    expect(audits).toHaveLength(auditsBefore + 1);
    expect(audits.at(-1)).toMatchObject({
      actor_session_id: mine.id,
      subjects: [{ type: 'session', id: other.id }],
      details: { endedSessionId: other.id, current: false },
    });

    // Ending it again: it is gone, the same 404 as any unknown id.
    expect((await end(mine, other.id)).statusCode).toBe(404);
  });

  it('another user’s session and an unknown id answer the same 404 and change nothing', async () => {
    const mine = await signIn(user, 'user@example.test', FIREFOX, '192.0.2.30');
    const adminSession = await signIn(admin, 'admin@example.test', SAFARI, '192.0.2.31');
    const auditsBefore = (await revokedAudits()).length;
    const theirs = await end(mine, adminSession.id);
    const unknown = await end(mine, randomUUID());
    expect(theirs.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    const strip = (r: LightMyRequestResponse): unknown =>
      Object.fromEntries(
        Object.entries(r.json<Record<string, unknown>>()).filter(
          ([k]) => k !== 'requestId' && k !== 'instance',
        ),
      );
    expect(strip(theirs)).toEqual(strip(unknown));
    expect(strip(theirs)).toMatchObject({ code: 'not_found' });
    expect(theirs.body).not.toContain(adminSession.id);
    expect((await get(h.app, '/api/v1/test/full', adminSession)).statusCode).toBe(200);
    expect((await listed(adminSession)).map((s) => s.id)).toContain(adminSession.id);
    expect(await revokedAudits()).toHaveLength(auditsBefore);
    // Not a uuid: refused by the schema.
    expect((await end(mine, 'not-a-uuid')).statusCode).toBe(400);
    // No session, no answer.
    const anon = await h.app.inject({ method: 'GET', url: '/api/v1/auth/sessions' });
    expect(anon.statusCode).toBe(401);
  });

  it('ending my current session signs me out here and clears the cookies', async () => {
    const mine = await signIn(user, 'user@example.test', FIREFOX, '192.0.2.40');
    const res = await end(mine, mine.id);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ok: true, current: true });
    const cleared = [res.headers['set-cookie'] ?? []].flat();
    expect(cleared.some((c) => c.startsWith('__Host-scrip_session=;'))).toBe(true);
    expect((await list(mine)).statusCode).toBe(401);
  });

  it('keeps at most 256 characters of a long user agent', async () => {
    const ua = `Mozilla/5.0 ${'x'.repeat(400)}`;
    const b = await signIn(user, 'user@example.test', ua, '192.0.2.50');
    const s = (await listed(b)).find((x) => x.current);
    expect(s?.userAgent).toBe(ua.slice(0, 256));
    expect(s?.ip).toBe('192.0.2.50');
  });
});
