/**
 * The idle-timeout warning in Debian Chromium against a real `scrip serve` whose idle timeout is
 * set to 5 minutes (SCRIP_SESSION_IDLE_MINUTES): the page's clock is Playwright's fake clock, so
 * minutes pass in an instant. The warning shows two minutes before the server's timeout (not the
 * default 15 minutes'), "Stay signed in" keeps the session, and silence signs the user out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScreen, signInWithPassword, startWebRun, type WebRun } from './browser.js';

describe('the idle-timeout warning (Chromium, SCRIP_SESSION_IDLE_MINUTES=5)', () => {
  let run: WebRun;

  beforeAll(async () => {
    run = await startWebRun({ env: { SCRIP_SESSION_IDLE_MINUTES: '5' } });
  }, 240_000);

  afterAll(async () => {
    await run.close();
  }, 60_000);

  it('warns two minutes before the server’s timeout, keeps the session on request, and signs out after silence', async () => {
    // A context of its own: the fake clock is installed per browser context.
    const w = await run.page(true);
    const { page } = w;
    await page.clock.install();
    await signInWithPassword(page, run.origin, run.user('prescriber'));
    const warning = page.getByRole('alertdialog', { name: 'Still there?' });
    const session = await page.evaluate(async () => {
      const res = await fetch('/api/v1/auth/session');
      return (await res.json()) as { idleTimeoutSeconds: number };
    });
    expect(session.idleTimeoutSeconds).toBe(300);

    // 2 min 30 s of silence: 2 min 30 s left, no warning yet.
    await page.clock.fastForward('02:30');
    await page.clock.runFor(2000);
    expect(await warning.count()).toBe(0);

    // At 3 min 30 s: the warning, counting down from about 1:30, with the focus on "Stay".
    await page.clock.fastForward('01:00');
    await page.clock.runFor(2000);
    await warning.waitFor();
    await expect
      .poll(async () => warning.getByText(/signed out in 1:2\d/).count(), { timeout: 5000 })
      .toBe(1);
    const stay = warning.getByRole('button', { name: 'Stay signed in' });
    expect(await page.evaluate<string>("document.activeElement?.textContent ?? ''")).toBe(
      'Stay signed in',
    );
    await checkScreen(w, 'idle-warning');

    // "Stay signed in" asks the server (which restarts its idle clock) and the warning goes.
    await stay.click();
    await warning.waitFor({ state: 'detached' });
    await page.clock.fastForward('02:30');
    await page.clock.runFor(2000);
    expect(await warning.count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBeGreaterThan(0);

    // The warning again a minute later; Escape keeps the session too (keyboard only).
    await page.clock.fastForward('01:00');
    await page.clock.runFor(2000);
    await warning.waitFor();
    await page.keyboard.press('Escape');
    await warning.waitFor({ state: 'detached' });

    // Five minutes of silence: signed out, back at the sign-in form, and the session is over.
    await page.clock.fastForward('05:30');
    await page.clock.runFor(2000);
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    const after = await page.evaluate(async () => (await fetch('/api/v1/auth/session')).status);
    expect(after).toBe(401);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 240_000);
});
