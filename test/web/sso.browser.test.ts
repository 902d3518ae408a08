/**
 * Single sign-on in the web app against a real OpenID Connect provider (test/identity/oidc-idp.ts)
 * on loopback: the operator maps the clinic's email domain (`scrip sso domains add`), the
 * administrator configures the IdP with the app's redirect URI (/sso/callback), a prescriber links
 * an IdP identity, then signs in from the sign-in page: the email's domain brings up the SSO
 * button, the IdP sends the browser back to /sso/callback, the code and state leave the address
 * bar, and the tenant's local second factor finishes the sign-in. `scrip serve` trusts the IdP's
 * throw-away CA through NODE_EXTRA_CA_CERTS; Chromium pins its certificate like the server's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoUser } from '../../src/cli/demo-seed.js';
import { LoopbackIdp } from '../identity/oidc-idp.js';
import { runScrip } from '../serve-process.js';
import {
  checkScreen,
  signedInOrAlert,
  signInWithPassword,
  startWebRun,
  totpFor,
  type WebRun,
} from './browser.js';

/** A same-origin API call from the signed-in page (session cookies, CSRF header). */
async function apiFrom(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return page.evaluate(
    async ({ method, path, body }) => {
      // Runs in the page (the test's tsconfig has no DOM types).
      const doc = (globalThis as unknown as { document: { cookie: string } }).document;
      const csrf =
        doc.cookie
          .split(';')
          .map((c: string) => c.trim())
          .find((c) => c.startsWith('__Host-scrip_csrf='))
          ?.slice('__Host-scrip_csrf='.length) ?? '';
      const res = await fetch(path, {
        method,
        headers: {
          'x-csrf-token': csrf,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return {
        status: res.status,
        json: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
      };
    },
    { method, path, body },
  );
}

async function stepUp(page: Page, user: DemoUser, action: string): Promise<void> {
  const r = await apiFrom(page, 'POST', '/api/v1/auth/step-up', {
    action,
    totp: await totpFor(user),
  });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
}

describe('single sign-on in the web app', () => {
  let run: WebRun | undefined;
  let idp: LoopbackIdp | undefined;
  const caDir = mkdtempSync(join(tmpdir(), 'scrip-idp-ca-'));

  beforeAll(async () => {
    run = await startWebRun({
      prepare: async (origin) => {
        idp = await LoopbackIdp.start([`${origin}/sso/callback`]);
        const caFile = join(caDir, 'idp-ca.pem');
        writeFileSync(caFile, idp.caPem);
        return { env: { NODE_EXTRA_CA_CERTS: caFile }, trustPem: [idp.certPem] };
      },
    });
  }, 300_000);

  afterAll(async () => {
    await run?.close();
    await idp?.close();
    rmSync(caDir, { recursive: true, force: true });
  });

  it('the email domain brings up the SSO button; the IdP round trip and the TOTP step sign in', async () => {
    if (run === undefined || idp === undefined) throw new Error('not started');
    const r = run;
    const i = idp;
    const clinic = r.seed.tenants.find((t) => t.kind === 'clinic');
    if (clinic === undefined) throw new Error('no demo clinic');
    const admin = r.user('tenant_admin');
    const prescriber = r.user('prescriber');
    const domain = prescriber.email.slice(prescriber.email.indexOf('@') + 1);

    // The operator maps the clinic's email domain (verified out of band).
    const added = await runScrip(
      ['sso', 'domains', 'add', domain, '--tenant', clinic.id, '--actor', 'ops@example.org'],
      r.env,
    );
    expect(added.code, added.stderr).toBe(0);
    const taken = await runScrip(
      [
        'sso',
        'domains',
        'add',
        domain,
        '--tenant',
        r.seed.tenants.find((t) => t.kind === 'pharmacy')?.id ?? '',
      ],
      r.env,
    );
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/already mapped/);

    // The administrator configures the IdP with the app's redirect URI (a step-up first).
    const a = await r.page(true);
    await signInWithPassword(a.page, r.origin, admin);
    await stepUp(a.page, admin, 'sso.config.change');
    const put = await apiFrom(a.page, 'PUT', '/api/v1/sso/config', {
      issuer: i.issuer,
      clientId: i.clientId,
      clientSecret: i.clientSecret,
      redirectUri: `${r.origin}/sso/callback`,
      trustIdpMfa: false,
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const view = await apiFrom(a.page, 'GET', '/api/v1/sso/config');
    expect(view.json).toMatchObject({ enabled: true, emailDomains: [domain] });
    await a.close();

    // The prescriber links an IdP identity; the IdP sends the browser back to /sso/callback.
    i.next = { sub: 'prescriber-at-idp', amr: ['pwd'] };
    const l = await r.page(true);
    await signInWithPassword(l.page, r.origin, prescriber);
    await stepUp(l.page, prescriber, 'auth.sso.link');
    const link = await apiFrom(l.page, 'POST', '/api/v1/auth/sso/link');
    expect(link.status, JSON.stringify(link.json)).toBe(200);
    await l.page.goto(String(link.json.authorizationUrl));
    await l.page.getByText('Your account is now linked').waitFor();
    expect(l.page.url()).toBe(`${r.origin}/`);
    await checkScreen(l, 'sso-linked');
    await l.page.getByRole('button', { name: 'Continue' }).click();
    await signedInOrAlert(l.page);
    await l.close();

    // Sign-in: typing the email brings up the organisation's SSO button.
    const w = await r.page(true);
    const { page } = w;
    await page.goto(`${r.origin}/`);
    await page.getByLabel('Email').fill(prescriber.email);
    const button = page.getByRole('button', {
      name: `Continue with ${clinic.name} single sign-on`,
    });
    await button.waitFor();
    // Password and passkey stay available.
    expect(await page.getByRole('button', { name: 'Sign in', exact: true }).count()).toBe(1);
    await checkScreen(w, 'signin-sso');
    await button.click();

    // Back from the IdP (no MFA the clinic trusts): the local second factor.
    await page.getByLabel('Authenticator code').waitFor();
    expect(page.url()).toBe(`${r.origin}/`);
    await checkScreen(w, 'sso-second-factor');
    await page.getByLabel('Authenticator code').fill(await totpFor(prescriber));
    await page.getByRole('button', { name: 'Continue' }).click();
    await signedInOrAlert(page);
    expect(page.url()).toBe(`${r.origin}/`);
    expect(page.url()).not.toContain('code=');
    const me = await apiFrom(page, 'GET', '/api/v1/auth/session');
    expect(me.json).toMatchObject({ userId: prescriber.userId, restricted: false });
    // The code and state are not in the history either.
    const cdp = await page.context().newCDPSession(page);
    const history = await cdp.send('Page.getNavigationHistory');
    const urls = history.entries.map((e) => e.url);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u).not.toMatch(/[?&](code|state)=/);
    await cdp.detach();
    await w.close();
    expect(w.violations).toEqual([]);

    // The address itself never reaches the server: the domain only (and no PHI in the log).
    expect(r.serve.output()).not.toContain(prescriber.email);
  }, 240_000);

  it('an email at a domain without SSO shows no button; a wrong callback shows the error', async () => {
    if (run === undefined) throw new Error('not started');
    const r = run;
    const w = await r.page(true);
    const { page } = w;
    await page.goto(`${r.origin}/`);
    let discovered = 0;
    page.on('request', (req) => {
      if (req.url().endsWith('/api/v1/auth/sso/discover')) {
        discovered++;
        expect(req.postDataJSON()).toEqual({ domain: 'elsewhere.example.org' });
      }
    });
    await page.getByLabel('Email').fill('someone@elsewhere.example.org');
    await expect.poll(() => discovered, { timeout: 10_000 }).toBe(1);
    await page.waitForTimeout(500);
    expect(await page.getByRole('button', { name: /single sign-on/ }).count()).toBe(0);

    // A callback with a forged state: an error with the request id, and the way back.
    await page.goto(`${r.origin}/sso/callback?code=forged&state=${'A'.repeat(43)}`);
    await page.getByRole('alert').waitFor();
    expect(page.url()).toBe(`${r.origin}/`);
    expect(await page.getByRole('alert').innerText()).toMatch(
      /Single sign-on failed[\s\S]*Request id/,
    );
    await checkScreen(w, 'sso-callback-error');
    await page.getByRole('button', { name: 'Back to sign-in' }).click();
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    await w.close();
  }, 120_000);
});
