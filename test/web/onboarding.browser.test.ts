/**
 * First run in the browser: the bootstrap link printed by `scrip serve` opens the app, which
 * creates the first administrator, then enrols TOTP from the QR code (a data: image, allowed by
 * the CSP) and shows the recovery codes. Fails without /usr/bin/chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase32Strict } from '../../src/identity/base32.js';
import { totp } from '../../src/identity/totp.js';
import { checkScreen, startWebRun, type WebRun } from './browser.js';

describe('first run in the web app', () => {
  let run: WebRun | undefined;

  beforeAll(async () => {
    run = await startWebRun({ demo: false });
  }, 240_000);

  afterAll(async () => {
    await run?.close();
  });

  it('redeems the bootstrap link and enrols TOTP with the QR code', async () => {
    if (run === undefined) throw new Error('not started');
    const r = run;
    let token: string | undefined;
    for (let i = 0; i < 100 && token === undefined; i++) {
      token = /\/bootstrap#([A-Za-z0-9_-]{43})/.exec(r.serve.output())?.[1];
      if (token === undefined) await new Promise((res) => setTimeout(res, 100));
    }
    expect(token, r.serve.output()).toBeDefined();
    const w = await r.page();
    const { page } = w;
    await page.goto(`${r.origin}/bootstrap#${token ?? ''}`);
    await page.getByRole('heading', { name: 'Set up Scrip' }).waitFor();
    // The token leaves the address bar at once.
    expect(page.url()).toBe(`${r.origin}/bootstrap`);
    await page.getByLabel('Organisation name').fill('Browser Clinic');
    await page.getByLabel('Your name').fill('Bea Browser');
    await page.getByLabel('Email').fill('bea@example.test');
    await page.getByLabel(/^Password/).fill('violet-quarry-Lantern-1987-spoke');
    await checkScreen(w, 'bootstrap');
    await page.getByRole('button', { name: 'Create my account' }).click();

    await page.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
    await qr.waitFor();
    await expect
      .poll(() => qr.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    await checkScreen(w, 'totp-enrolment');
    const secret = decodeBase32Strict(await page.locator('code').first().innerText());
    if (secret === undefined) throw new Error('no TOTP secret shown');
    await page.getByLabel('Code from the app').fill(totp(secret, Date.now()));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Your authenticator is set up.').waitFor();
    expect(await page.locator('li code').count()).toBeGreaterThan(0);
    await checkScreen(w, 'recovery-codes');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: /^Welcome/ }).waitFor();
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await w.close();
    expect(w.violations).toEqual([]);
  });
});
