import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ssoCommand } from '../../src/cli/sso.command.js';
import type { TenantId } from '../../src/core/index.js';
import { ssoRoutes } from '../../src/http/routes/sso.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

const META = { ip: '127.0.0.1', userAgent: 'vitest' };

/** A domain no other test (or earlier run on the same database) uses. */
function domain(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}.example.org`;
}

async function auditOf(
  p: TestPlatform,
  tenant: TenantId,
): Promise<{ action: string; details: Record<string, unknown> }[]> {
  return p.db.withTenant(tenant, async (tx) => {
    const { rows } = await tx.query<{ action: string; details: Record<string, unknown> }>(
      `SELECT action, details FROM audit_log WHERE action LIKE 'sso.domain.%' ORDER BY seq`,
    );
    return rows;
  });
}

/** Home-realm discovery: operator-mapped email domains and the public discovery route. */
describe('SSO email domains and discovery', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let logs: { text: string };
  let enabled: TenantId;
  let disabled: TenantId;
  let noSso: TenantId;

  async function configure(tenant: TenantId, on: boolean): Promise<void> {
    await p.identity.ssoConfig.put(
      { tenantId: tenant, userId: randomUUID(), sessionId: randomUUID() },
      {
        issuer: 'https://idp.example.org',
        clientId: 'scrip',
        clientSecret: 'not-used-here',
        redirectUri: 'https://scrip.example.org/sso/callback',
        allowAutoCreate: false,
        defaultRole: 'staff',
        trustIdpMfa: false,
        trustedAmr: [],
        trustedAcr: [],
        enabled: on,
      },
      META,
    );
  }

  beforeAll(async () => {
    p = await testPlatform();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    ({ app, logs } = await buildTestApp(p.db, {
      routes: ssoRoutes(p.identity.sso, p.identity.ssoConfig, p.identity.ssoDomains),
      authenticator: sessionAuthenticator(p.identity.sessions),
    }));
    enabled = await freshTenant(p.db, 'Riverside Family Clinic');
    disabled = await freshTenant(p.db, 'Hillview Clinic');
    noSso = await freshTenant(p.db, 'Lakeside Clinic');
    await configure(enabled, true);
    await configure(disabled, false);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await app.close();
    await p.close();
  });

  const discover = (body: unknown) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/sso/discover', payload: body as object });

  it('the operator maps domains with the CLI: unique across tenants, validated, audited', async () => {
    const d = domain('riverside');
    expect(await ssoCommand(p, 'domains', ['add', d.toUpperCase()], { tenant: enabled })).toBe(0);
    // Another tenant cannot take the same domain, in any spelling.
    await expect(
      ssoCommand(p, 'domains', ['add', `${d}.`], { tenant: disabled }),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(ssoCommand(p, 'domains', ['add', d], { tenant: enabled })).rejects.toMatchObject({
      code: 'conflict',
    });
    for (const bad of ['localhost', 'exa mple.org', '-bad.example.org', 'a@b.example.org', '']) {
      await expect(
        ssoCommand(p, 'domains', ['add', bad], { tenant: enabled }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
    }
    await expect(
      ssoCommand(p, 'domains', ['add', domain('nobody')], { tenant: randomUUID() }),
    ).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      ssoCommand(p, 'domains', ['add', domain('x')], { tenant: 'not-a-uuid' }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await ssoCommand(p, 'domains', ['add'], { tenant: enabled })).toBe(2);
    expect(await ssoCommand(p, 'nope', [], {})).toBe(2);

    expect((await p.identity.ssoDomains.list(enabled)).map((x) => x.domain)).toEqual([d]);
    expect(await p.identity.ssoDomains.list(disabled)).toEqual([]);
    expect(await ssoCommand(p, 'domains', ['list'], { tenant: enabled, json: true })).toBe(0);

    // Removing is per tenant: another tenant cannot remove it.
    await expect(
      ssoCommand(p, 'domains', ['remove', d], { tenant: disabled }),
    ).rejects.toMatchObject({ code: 'not_found' });
    expect(await ssoCommand(p, 'domains', ['remove', d], { tenant: enabled })).toBe(0);
    expect(await p.identity.ssoDomains.list(enabled)).toEqual([]);

    const audit = await auditOf(p, enabled);
    expect(audit.map((a) => a.action)).toEqual(['sso.domain.added', 'sso.domain.removed']);
    expect(audit[0]?.details).toMatchObject({ domain: d, createdBy: 'cli' });
    expect(await auditOf(p, disabled)).toEqual([]);
  });

  it('discovery offers SSO only for a mapped domain whose tenant has SSO enabled', async () => {
    const on = domain('on');
    const off = domain('off');
    const none = domain('none');
    await p.identity.ssoDomains.add(enabled, on, 'ops@example.org', { kind: 'cli' });
    await p.identity.ssoDomains.add(disabled, off, 'ops@example.org', { kind: 'cli' });
    await p.identity.ssoDomains.add(noSso, none, 'ops@example.org', { kind: 'cli' });

    const yes = await discover({ domain: ` ${on.toUpperCase()} ` });
    expect(yes.statusCode, yes.body).toBe(200);
    expect(yes.json()).toEqual({
      sso: true,
      tenantId: enabled,
      organisation: 'Riverside Family Clinic',
      startUrl: `/api/v1/auth/sso/${enabled}/start`,
    });
    expect(yes.headers['cache-control']).toBe('no-store');

    // Disabled, not configured, unknown: one status and one body, nothing to tell them apart.
    const answers = await Promise.all(
      [off, none, domain('unknown')].map((d) => discover({ domain: d })),
    );
    for (const r of answers) {
      expect(r.statusCode).toBe(200);
      expect(r.body).toBe('{"sso":false}');
    }

    // Switching the tenant's SSO off withdraws the offer at once.
    await configure(enabled, false);
    expect((await discover({ domain: on })).json()).toEqual({ sso: false });
    await configure(enabled, true);
    expect((await discover({ domain: on })).json()).toMatchObject({ sso: true });
    // Public lookups are not logged with their domain.
    expect(logs.text).not.toContain(on);
    expect(logs.text).not.toContain(off);
  });

  it('refuses what is not a domain with a problem answer, and the full address too', async () => {
    for (const body of [
      { domain: 'not a domain' },
      { domain: 'alice@riverside.example.org' },
      { domain: 'x'.repeat(254) },
      {},
    ]) {
      const r = await discover(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.body).not.toContain('alice');
    }
  });

  // Last in the file: it spends this address's budget for the minute.
  it('limits one address to 60 lookups a minute (429 with Retry-After), whatever the domain', async () => {
    let first429: Awaited<ReturnType<typeof discover>> | undefined;
    let answered = 0;
    for (let i = 0; i < 70 && first429 === undefined; i += 1) {
      const r = await discover({ domain: domain(`probe${String(i)}`) });
      if (r.statusCode === 429) first429 = r;
      else {
        expect(r.statusCode).toBe(200);
        answered += 1;
      }
    }
    expect(first429).toBeDefined();
    expect(answered).toBeLessThanOrEqual(60);
    expect(first429!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(first429!.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(first429!.headers['retry-after'])).toBeGreaterThan(0);
  });
});
