import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
import { BUILT_IN_CATALOG } from '../../src/access/role-catalog.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  headers,
  login,
  inviteAndEnrol,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { fullHarness, stepUp } from './harness.js';

/** Signs in again with password and a fresh TOTP (the old session may have idled out). */
async function signIn(h: Harness, email: string, user: Enrolled): Promise<Browser> {
  h.clock.advance(30_000);
  const res = await login(h, email, { totp: codeFor(user.secret, h.clock) });
  expect(res.statusCode, res.body).toBe(200);
  return cookiesOf(res);
}

async function call(
  h: Harness,
  method: Verb,
  url: string,
  b: Browser,
  opts: { ip?: string; payload?: unknown; cookie?: string } = {},
) {
  const hs = headers(b, method !== 'GET');
  if (opts.cookie !== undefined) hs.cookie = `${hs.cookie ?? ''}; ${opts.cookie}`;
  return h.app.inject({
    method,
    url,
    headers: hs,
    remoteAddress: opts.ip ?? '10.1.1.1',
    ...(opts.payload === undefined ? {} : { payload: opts.payload as Record<string, unknown> }),
  });
}

describe('context policy on every request (networks, device, hours), audited', () => {
  let h: Harness;
  let admin: Enrolled;
  let pres: Enrolled;
  let agent: Enrolled;

  async function publish(policy: unknown): Promise<void> {
    await stepUp(h, admin, 'access.policy.change');
    const res = await call(h, 'PUT', '/api/v1/access/context-policy', admin.browser, {
      payload: policy,
    });
    expect(res.statusCode, res.body).toBe(200);
  }

  beforeAll(async () => {
    h = await fullHarness(Date.UTC(2026, 2, 2, 15, 0, 0)); // Monday 10:00 in New York
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    agent = await inviteAndEnrol(h, admin.browser, 'agent@example.test', ['prescriber_agent']);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('publishing a policy needs access.policy and a step-up, and bad CIDR is refused', async () => {
    const noStep = await call(h, 'PUT', '/api/v1/access/context-policy', admin.browser, {
      payload: { networks: { allow: ['10.0.0.0/8'], onFail: 'deny' } },
    });
    expect(noStep.json()).toMatchObject({ code: 'step_up_required' });
    const byPrescriber = await call(h, 'GET', '/api/v1/access/context-policy', pres.browser);
    expect(byPrescriber.statusCode).toBe(403);
    await stepUp(h, admin, 'access.policy.change');
    const bad = await call(h, 'PUT', '/api/v1/access/context-policy', admin.browser, {
      payload: { networks: { allow: ['10.0.0.0/33'], onFail: 'deny' } },
    });
    expect(bad.statusCode).toBe(400);
    const current = await call(h, 'GET', '/api/v1/access/context-policy', admin.browser);
    expect(current.json()).toEqual({ version: 0, policy: null });
  });

  it('outside the allowed networks a step-up is demanded, then honoured for a while', async () => {
    await publish({
      networks: { allow: ['10.0.0.0/8'], roles: ['prescriber'], onFail: 'step_up' },
    });
    expect((await call(h, 'GET', '/api/v1/whoami', pres.browser)).statusCode).toBe(200);
    const outside = await call(h, 'GET', '/api/v1/whoami', pres.browser, { ip: '192.0.2.7' });
    expect(outside.statusCode).toBe(403);
    expect(outside.json()).toMatchObject({ code: 'step_up_required', detail: 'access.context' });
    // Other roles are not constrained by this rule.
    expect(
      (await call(h, 'GET', '/api/v1/whoami', agent.browser, { ip: '192.0.2.7' })).statusCode,
    ).toBe(200);
    // The step-up answer itself stays reachable from outside.
    h.clock.advance(30_000);
    await stepUp(h, pres, 'access.context');
    expect(
      (await call(h, 'GET', '/api/v1/whoami', pres.browser, { ip: '192.0.2.7' })).statusCode,
    ).toBe(200);
    // The context step-up lasts an hour (SCRIP_CONTEXT_STEP_UP_MINUTES); a new session after
    // that is asked again.
    h.clock.advance(61 * 60_000);
    const fresh = await signIn(h, 'pres@example.test', pres);
    const again = await call(h, 'GET', '/api/v1/whoami', fresh, { ip: '192.0.2.7' });
    expect(again.json()).toMatchObject({ code: 'step_up_required', detail: 'access.context' });
    const audit = await auditActions(h, pres.tenantId);
    const demanded = audit.filter((a) => a.action === 'access.context.step_up');
    expect(demanded.length).toBeGreaterThanOrEqual(1);
    expect(demanded[0]?.details).toMatchObject({ reasons: 'network' });
    expect(JSON.stringify(demanded)).not.toContain('192.0.2.7');
    // Publishing the policy is a configuration change with its own record (issue 6 point 1).
    const published = audit.filter((a) => a.action === 'access.context.policy');
    expect(published.map((a) => [a.outcome, a.details.version])).toEqual([['success', 1]]);
  });
});

describe('context policy: deny rules, devices and hours', () => {
  let h: Harness;
  let admin: Enrolled;
  let pres: Enrolled;
  let agent: Enrolled;

  async function publish(policy: unknown): Promise<void> {
    await stepUp(h, admin, 'access.policy.change');
    const res = await call(h, 'PUT', '/api/v1/access/context-policy', admin.browser, {
      payload: policy,
    });
    expect(res.statusCode, res.body).toBe(200);
  }

  beforeAll(async () => {
    h = await fullHarness(Date.UTC(2026, 2, 2, 15, 0, 0));
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    agent = await inviteAndEnrol(h, admin.browser, 'agent@example.test', ['prescriber_agent']);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('a deny network rule refuses (10.0.0.1 is not 10.0.0.100/32), and sign-out still works', async () => {
    await publish({
      networks: { allow: ['10.0.0.100/32'], roles: ['prescriber'], onFail: 'deny' },
    });
    const res = await call(h, 'GET', '/api/v1/whoami', pres.browser, { ip: '10.0.0.1' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'forbidden', detail: 'context:network' });
    expect(
      (await call(h, 'GET', '/api/v1/whoami', pres.browser, { ip: '10.0.0.100' })).statusCode,
    ).toBe(200);
    expect(
      (await call(h, 'GET', '/api/v1/auth/session', pres.browser, { ip: '10.0.0.1' })).statusCode,
    ).toBe(200);
    const audit = await auditActions(h, pres.tenantId);
    expect(
      audit.some((a) => a.action === 'access.context.deny' && a.details.reasons === 'network'),
    ).toBe(true);
  });

  it('a deny device rule admits only a device another user approved, and only its owner', async () => {
    await publish({
      device: { requireTrusted: true, roles: ['prescriber', 'prescriber_agent'], onFail: 'deny' },
    });
    const before = await call(h, 'GET', '/api/v1/whoami', pres.browser);
    expect(before.json()).toMatchObject({ code: 'forbidden', detail: 'context:device' });
    const register = (b: Browser, opts: { ip?: string } = {}) =>
      call(h, 'POST', '/api/v1/access/devices', b, { ...opts, payload: { label: 'Exam room 3' } });
    const noStep = await register(pres.browser);
    expect(noStep.json()).toMatchObject({ code: 'step_up_required' });
    await stepUp(h, pres, 'access.device.register');
    const reg = await register(pres.browser);
    expect(reg.statusCode, reg.body).toBe(201);
    const setCookie = String(reg.headers['set-cookie']);
    expect(setCookie).toMatch(
      /^__Host-scrip_device=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict/,
    );
    // The cookie lives as long as the registration: the configured trusted-device lifetime.
    const body = reg.json<{ id: string; expiresAt: string; status: string }>();
    expect(body.status).toBe('pending');
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
    expect(maxAge).toBe((Date.parse(body.expiresAt) - h.clock.now().getTime()) / 1000);
    const cookie = setCookie.split(';')[0] ?? '';
    // Pending: the user the rule constrains cannot lift it alone.
    const pending = await call(h, 'GET', '/api/v1/whoami', pres.browser, { cookie });
    expect(pending.json()).toMatchObject({ code: 'forbidden', detail: 'context:device' });
    const approve = (b: Browser, id: string) =>
      call(h, 'POST', `/api/v1/access/devices/${id}/approve`, b);
    expect((await approve(pres.browser, body.id)).statusCode).toBe(403);
    // An access.policy holder cannot approve their own device either (audited refusal).
    await stepUp(h, admin, 'access.device.register');
    const own = (await register(admin.browser)).json<{ id: string; status: string }>();
    expect(own.status).toBe('pending');
    await stepUp(h, admin, 'access.device.approve');
    const self = await approve(admin.browser, own.id);
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ detail: 'self_approval' });
    const listed = await call(h, 'GET', '/api/v1/access/devices/pending', admin.browser);
    expect(listed.json<{ devices: { id: string }[] }>().devices.map((d) => d.id)).toEqual([
      body.id,
      own.id,
    ]);
    await stepUp(h, admin, 'access.device.approve');
    const ok = await approve(admin.browser, body.id);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ userId: pres.userId });
    expect((await call(h, 'GET', '/api/v1/whoami', pres.browser, { cookie })).statusCode).toBe(200);
    // A forged cookie, or another constrained user presenting this approved cookie, does not count.
    const forged = `__Host-scrip_device=${'A'.repeat(43)}`;
    expect(
      (await call(h, 'GET', '/api/v1/whoami', pres.browser, { cookie: forged })).statusCode,
    ).toBe(403);
    const foreign = await call(h, 'GET', '/api/v1/whoami', agent.browser, { cookie });
    expect(foreign.json()).toMatchObject({ code: 'forbidden', detail: 'context:device' });
    const audit = await auditActions(h, pres.tenantId);
    expect(
      audit
        .filter((a) => a.action === 'access.device.approve')
        .map((a) => [a.outcome, a.details.refused]),
    ).toEqual([
      ['denied', 'self_approval'],
      ['success', undefined],
    ]);
    // Registering stays subject to the network rule (exempt only from the device rule).
    await publish({
      networks: { allow: ['10.0.0.0/8'], onFail: 'deny' },
      device: { requireTrusted: true, roles: ['prescriber_agent'], onFail: 'deny' },
    });
    await stepUp(h, agent, 'access.device.register');
    const outside = await register(agent.browser, { ip: '192.0.2.7' });
    expect(outside.json()).toMatchObject({ code: 'forbidden', detail: 'context:network' });
  });

  it('a step-up device rule keeps self-registration: the device counts at once', async () => {
    await publish({
      device: { requireTrusted: true, roles: ['prescriber_agent'], onFail: 'step_up' },
    });
    const before = await call(h, 'GET', '/api/v1/whoami', agent.browser);
    expect(before.json()).toMatchObject({ code: 'step_up_required' });
    await stepUp(h, agent, 'access.device.register');
    const reg = await call(h, 'POST', '/api/v1/access/devices', agent.browser, {
      payload: { label: 'Front desk' },
    });
    expect(reg.json()).toMatchObject({ status: 'trusted' });
    const cookie = String(reg.headers['set-cookie']).split(';')[0] ?? '';
    expect((await call(h, 'GET', '/api/v1/whoami', agent.browser, { cookie })).statusCode).toBe(
      200,
    );
  });

  it('an hours rule for agents follows New York time', async () => {
    await publish({
      hours: [
        {
          roles: ['prescriber_agent'],
          timeZone: 'America/New_York',
          days: [1, 2, 3, 4, 5],
          start: '08:00',
          end: '18:00',
          onFail: 'deny',
        },
      ],
    });
    expect((await call(h, 'GET', '/api/v1/whoami', agent.browser)).statusCode).toBe(200);
    h.clock.set(new Date(Date.UTC(2026, 2, 2, 22, 55, 0))); // 17:55 EST
    const late = await signIn(h, 'agent@example.test', agent);
    expect((await call(h, 'GET', '/api/v1/whoami', late)).statusCode).toBe(200);
    h.clock.advance(5 * 60_000); // 18:00 EST: closed
    const closed = await call(h, 'GET', '/api/v1/whoami', late);
    expect(closed.json()).toMatchObject({ code: 'forbidden', detail: 'context:hours' });
    // The prescriber is not constrained by the agents' hours.
    const p = await signIn(h, 'pres@example.test', pres);
    expect((await call(h, 'GET', '/api/v1/whoami', p)).statusCode).toBe(200);
  });
});

describe('roles are data: versioned, two-person changes, separations kept', () => {
  let h: Harness;
  let admin: Enrolled;
  let admin2: Enrolled;
  let support: Enrolled;

  beforeAll(async () => {
    h = await fullHarness();
    admin = await bootstrapAdmin(h);
    admin2 = await inviteAndEnrol(h, admin.browser, 'admin2@example.test', ['tenant_admin']);
    support = await inviteAndEnrol(h, admin.browser, 'support@example.test', ['support']);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  const catalog = (): Record<string, string[]> =>
    Object.fromEntries(Object.entries(BUILT_IN_CATALOG).map(([r, ps]) => [r, [...ps]]));

  it('refuses a catalog that lets an agent sign or support see patients', async () => {
    await stepUp(h, admin, 'access.roles.change');
    const agentSigns = catalog();
    agentSigns.prescriber_agent?.push('rx.sign');
    const r1 = await call(h, 'POST', '/api/v1/access/roles/versions', admin.browser, {
      payload: { catalog: agentSigns, reason: 'try' },
    });
    expect(r1.statusCode).toBe(400);
    await stepUp(h, admin, 'access.roles.change');
    const supportReads = catalog();
    supportReads.support?.push('patient.read');
    const r2 = await call(h, 'POST', '/api/v1/access/roles/versions', admin.browser, {
      payload: { catalog: supportReads, reason: 'try' },
    });
    expect(r2.statusCode).toBe(400);
    expect((await call(h, 'GET', '/api/v1/access/roles/versions', admin.browser)).json()).toEqual({
      versions: [],
    });
  });

  it('a proposal takes effect only when a second administrator approves it', async () => {
    expect((await call(h, 'GET', '/api/v1/users', support.browser)).statusCode).toBe(200);
    const next = catalog();
    next.support = [];
    await stepUp(h, admin, 'access.roles.change');
    const proposed = await call(h, 'POST', '/api/v1/access/roles/versions', admin.browser, {
      payload: { catalog: next, reason: 'Support no longer lists users (ticket 42)' },
    });
    expect(proposed.statusCode, proposed.body).toBe(201);
    const { id, version } = proposed.json<{ id: string; version: number }>();
    expect(version).toBe(1);
    // Not in force yet.
    expect((await call(h, 'GET', '/api/v1/users', support.browser)).statusCode).toBe(200);
    await stepUp(h, admin, 'access.roles.change');
    const self = await call(
      h,
      'POST',
      `/api/v1/access/roles/versions/${id}/decision`,
      admin.browser,
      {
        payload: { decision: 'approved' },
      },
    );
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ code: 'forbidden', detail: 'self' });
    await stepUp(h, admin2, 'access.roles.change');
    const ok = await call(
      h,
      'POST',
      `/api/v1/access/roles/versions/${id}/decision`,
      admin2.browser,
      {
        payload: { decision: 'approved' },
      },
    );
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await call(h, 'GET', '/api/v1/users', support.browser)).statusCode).toBe(403);
    const current = await call(h, 'GET', '/api/v1/access/roles', admin.browser);
    expect(current.json<{ version: number }>().version).toBe(1);
    const audit = await auditActions(h, admin.tenantId);
    expect(
      audit
        .filter((a) => a.action.startsWith('access.roles.'))
        .map((a) => `${a.action}:${a.outcome}`),
    ).toEqual([
      'access.roles.propose:success',
      'access.roles.approve:denied',
      'access.roles.approve:success',
    ]);
  });
});
