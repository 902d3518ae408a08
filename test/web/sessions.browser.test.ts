/**
 * The account screen's signed-in sessions in Chromium against a real, seeded `scrip serve`: the
 * user signs in on a "phone" (an API sign-in from the test with an iPhone user agent) and in the
 * browser, sees both sessions on the Account screen, signs the phone out from the table (its
 * cookie stops working), then signs this session out from its own row and is back at the sign-in
 * page. axe, a screenshot and the CSP check on the screen. Fails without /usr/bin/chromium.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoUser } from '../../src/cli/demo-seed.js';
import { checkScreen, signInWithPassword, startWebRun, totpFor, type WebRun } from './browser.js';

const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/** One HTTPS request to the run, trusting only its local CA. */
async function call(
  run: WebRun,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; cookies: string[]; text: string }> {
  const ca = readFileSync(join(run.env.SCRIP_DATA_DIR ?? '', 'tls', 'ca.pem'));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${run.origin}${path}`,
      {
        method,
        ca,
        headers: {
          ...headers,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [], text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A password + TOTP sign-in through the API from another "device"; returns its cookie header. */
async function signInElsewhere(run: WebRun, user: DemoUser): Promise<string> {
  const res = await call(
    run,
    'POST',
    '/api/v1/auth/login',
    { 'user-agent': PHONE },
    { email: user.email, password: user.password, totp: await totpFor(user) },
  );
  expect(res.status, res.text).toBe(200);
  return res.cookies.map((c) => c.split(';')[0]).join('; ');
}

describe('the signed-in sessions on the account screen (Chromium, scrip serve)', () => {
  let run: WebRun | undefined;

  beforeAll(async () => {
    run = await startWebRun();
  }, 300_000);

  afterAll(async () => {
    await run?.close();
  });

  it('lists this session and the phone, signs the phone out, then this one', async () => {
    if (run === undefined) throw new Error('not started');
    const r = run;
    const user = r.user('care_coordinator');
    const phone = await signInElsewhere(r, user);
    const phoneAlive = async (): Promise<number> =>
      (await call(r, 'GET', '/api/v1/auth/session', { cookie: phone })).status;
    expect(await phoneAlive()).toBe(200);

    const w = await r.page(true);
    const { page } = w;
    await signInWithPassword(page, r.origin, user);
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Account' })
      .click();
    await page.getByRole('heading', { name: 'Signed-in sessions' }).waitFor();
    const table = page.getByRole('table', { name: 'Your signed-in sessions, newest first' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    const phoneRow = rows.filter({ hasText: 'Safari on iOS' });
    const thisRow = rows.filter({ hasText: 'This session' });
    await expect.poll(() => phoneRow.count()).toBe(1);
    expect(await thisRow.count()).toBe(1);
    expect(await thisRow.getByRole('rowheader').innerText()).toMatch(/^Chrome on Linux/);
    // The address is recorded (loopback here), the phone is not this session.
    expect(await phoneRow.locator('td').first().innerText()).toMatch(
      /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/,
    );
    expect(await phoneRow.getByText('This session').count()).toBe(0);
    // Newest first: this browser signed in after the phone.
    expect(await rows.first().getAttribute('data-session')).toBe('current');
    const before = await rows.count();
    await checkScreen(w, 'account-sessions');

    await phoneRow.getByRole('button', { name: /^Sign out Safari on iOS/ }).click();
    await page.getByRole('status').getByText('Signed out Safari on iOS.').waitFor();
    await expect.poll(() => rows.count()).toBe(before - 1);
    expect(await phoneRow.count()).toBe(0);
    expect(await phoneAlive()).toBe(401);
    // This session still works.
    expect(await page.evaluate("fetch('/api/v1/auth/session').then((x) => x.status)")).toBe(200);

    await thisRow.getByRole('button', { name: 'Sign out this session' }).click();
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    expect(await page.evaluate("fetch('/api/v1/auth/session').then((x) => x.status)")).toBe(401);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 240_000); // two TOTP sign-ins: each may wait for a fresh 30-second step
});
