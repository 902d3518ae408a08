/**
 * The web app end to end in Chromium against a real, seeded `scrip serve` (test/web/browser.ts).
 * Without /usr/bin/chromium this fails; it never skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/http/security-headers.js';
import {
  checkScreen,
  domViolations,
  signInWithPassword,
  startWebRun,
  type WebRun,
} from './browser.js';

describe('the web app in Chromium against scrip serve', () => {
  let run: WebRun | undefined;
  const started = (): WebRun => {
    if (run === undefined) throw new Error('not started');
    return run;
  };

  beforeAll(async () => {
    run = await startWebRun();
  }, 240_000);

  afterAll(async () => {
    await run?.close();
  });

  it('serves the app under the CSP; a prescriber signs in with password and TOTP', async () => {
    const run = started();
    const w = await run.page();
    const { page } = w;
    const nav = await page.goto(`${run.origin}/`);
    expect(nav?.status()).toBe(200);
    const headers = nav?.headers() ?? {};
    expect(headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['x-frame-options']).toBe('DENY');
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    expect(await page.title()).toBe('Sign in · Scrip');
    await checkScreen(w, 'sign-in');

    const prescriber = run.user('prescriber');
    await signInWithPassword(page, run.origin, prescriber);
    await page.getByRole('heading', { name: /^Welcome/ }).waitFor();
    expect(await page.title()).toBe('Home · Scrip');
    await checkScreen(w, 'home-prescriber');
    // Nothing in browser storage; the session lives in the server's HttpOnly cookie.
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    // A client route reloaded directly is the app again (SPA fallback), still signed in.
    await page.goto(`${run.origin}/account`);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    await w.close();
    expect(w.violations).toEqual([]);
  });

  it('notices a CSP violation when one happens (the checks above can fail)', async () => {
    const w = await started().page();
    await w.page.goto(`${started().origin}/`);
    await w.page.evaluate(
      "const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s);",
    );
    await expect.poll(async () => (await domViolations(w.page)).length).toBeGreaterThan(0);
    expect(await w.page.evaluate('window.x')).toBeUndefined();
    await w.close();
    expect(w.violations.some((v) => v.includes('script-src'))).toBe(true);
  });
});
