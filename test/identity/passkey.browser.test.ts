/**
 * End to end in a real browser: Debian's Chromium (never a downloaded one) driven by
 * playwright-core, with a CDP virtual authenticator (CTAP2, internal, resident keys, user
 * verification), against a real `scrip serve` over HTTPS on localhost. The page is a same-origin
 * page served by Scrip (/healthz: a secure context); the API and navigator.credentials calls run
 * inside it, exactly as the web app will make them. Chromium trusts the server's key through
 * --ignore-certificate-errors-spki-list, so the page has no certificate error (WebAuthn refuses
 * pages that have one). Without /usr/bin/chromium this test fails; it never skips.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase32Strict } from '../../src/identity/base32.js';
import { totp } from '../../src/identity/totp.js';
import { isolatedEnv, startServe, type ServeProcess } from '../serve-process.js';
import { CHROMIUM, freePort, spkiHash } from '../web/browser.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Page-side helpers, as plain JavaScript (the project compiles without DOM types): JSON calls
 * with the CSRF header, and the two ceremonies through the WebAuthn JSON helpers (L3 §5.1.9,
 * parseCreationOptionsFromJSON / parseRequestOptionsFromJSON / toJSON).
 */
const PAGE_HELPERS = `window.scrip = {
  async call(method, url, body) {
    const csrf = /(?:^|; )__Host-scrip_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? '';
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = csrf;
    const res = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) };
  },
  async register(name) {
    const options = await this.call('POST', '/api/v1/auth/webauthn/register/options');
    if (options.status !== 200) return options;
    const cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body),
    });
    return this.call('POST', '/api/v1/auth/webauthn/register', { response: cred.toJSON(), name });
  },
  async login() {
    const options = await this.call('POST', '/api/v1/auth/webauthn/login/options', {});
    if (options.status !== 200) return options;
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body),
    });
    return this.call('POST', '/api/v1/auth/webauthn/login', { response: cred.toJSON() });
  },
};
true`;

/** A JSON call from inside the page (same origin: the session cookies ride along). */
async function call(page: Page, method: string, url: string, body?: unknown): Promise<Answer> {
  const args = [method, url, body].map((a) => (a === undefined ? 'undefined' : JSON.stringify(a)));
  return page.evaluate<Answer>(`window.scrip.call(${args.join(', ')})`);
}

describe('passkeys in Chromium (virtual authenticator) against scrip serve', () => {
  let serve: ServeProcess | undefined;
  let context: BrowserContext | undefined;
  let drop = async (): Promise<void> => undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    }
    const dataDir = mkdtempSync(join(tmpdir(), 'scrip-passkey-'));
    const profile = mkdtempSync(join(tmpdir(), 'scrip-chromium-'));
    dirs.push(dataDir, profile);
    const port = await freePort();
    const isolated = await isolatedEnv(dataDir, {
      SCRIP_PORT: String(port),
      SCRIP_WEBAUTHN_RP_ID: 'localhost',
      SCRIP_WEBAUTHN_ORIGIN: `https://localhost:${String(port)}`,
    });
    drop = isolated.drop;
    serve = await startServe(isolated.env);
    const spki = spkiHash(readFileSync(join(dataDir, 'tls', 'server.pem'), 'utf8'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--ignore-certificate-errors-spki-list=${spki}`,
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await serve?.stop();
    await drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('registers a passkey, signs out, and signs in with the passkey alone', async () => {
    if (serve === undefined || context === undefined) throw new Error('not started');
    const s = serve;
    const origin = `https://localhost:${String(s.port)}`;
    // The one-time bootstrap link is printed just after "listening".
    let token: string | undefined;
    for (let i = 0; i < 100 && token === undefined; i++) {
      token = /\/bootstrap#([A-Za-z0-9_-]{43})/.exec(s.output())?.[1];
      if (token === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(token, s.output()).toBeDefined();

    const page = context.pages()[0] ?? (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const nav = await page.goto(`${origin}/healthz`);
    expect(nav?.status()).toBe(200);
    expect(await page.evaluate('window.isSecureContext')).toBe(true);
    expect(await page.evaluate(PAGE_HELPERS)).toBe(true);

    // First administrator: password, then TOTP (computed here from the enrolment secret).
    const boot = await call(page, 'POST', '/api/v1/auth/bootstrap', {
      token,
      tenantName: 'Browser Clinic',
      email: 'browser-admin@example.test',
      password: 'violet-quarry-Lantern-1987-spoke',
      displayName: 'Bea Browser',
    });
    expect(boot.status, JSON.stringify(boot.body)).toBe(200);
    const begin = await call(page, 'POST', '/api/v1/auth/totp/enrol');
    expect(begin.status).toBe(200);
    const secret = decodeBase32Strict(String(begin.body.secret));
    if (secret === undefined) throw new Error('bad TOTP secret');
    const confirm = await call(page, 'POST', '/api/v1/auth/totp/confirm', {
      code: totp(secret, Date.now()),
    });
    expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);

    // Register a passkey with the virtual authenticator.
    const registered = await page.evaluate<Answer>(`window.scrip.register('Virtual passkey')`);
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    const held = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(held.credentials).toHaveLength(1);
    expect(held.credentials[0]?.isResidentCredential).toBe(true);

    // Sign out: the session is gone.
    expect((await call(page, 'POST', '/api/v1/auth/logout')).status).toBe(200);
    expect((await call(page, 'GET', '/api/v1/auth/session')).status).toBe(401);

    // Sign in with the passkey alone (discoverable credential, user verified).
    const signedIn = await page.evaluate<Answer>('window.scrip.login()');
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    expect(signedIn.body.status).toBe('signed_in');

    const session = await call(page, 'GET', '/api/v1/auth/session');
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({
      email: 'browser-admin@example.test',
      restricted: false,
      mfaEnrolled: true,
    });
    const mine = await call(page, 'GET', '/api/v1/auth/webauthn/credentials');
    expect(mine.status).toBe(200);
    const listed = mine.body.credentials as { name: string; lastUsedAt: string | null }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.name).toBe('Virtual passkey');
    expect(listed[0]?.lastUsedAt).not.toBeNull();
    // An authenticated administrator route works with the passkey session.
    expect((await call(page, 'GET', '/api/v1/users')).status).toBe(200);
  });
});
