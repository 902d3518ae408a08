/**
 * The prescribing flow in Chromium against a real, seeded `scrip serve`: the agent finds the
 * patient and drafts a Schedule II prescription; the prescriber signs in with a passkey (CDP
 * virtual authenticator), reviews it, marks it ready, completes the TOTP step-up on the EPCS
 * screen and signs. The prescriber renews the demo's signed prescription and changes another:
 * each opens a new draft linked to the original; the agent sees no cancel button. A support user
 * sees no clinical field. Every screen: axe-core (no serious or critical violation), a
 * screenshot, no CSP violation. Fails without /usr/bin/chromium.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/http/security-headers.js';
import {
  checkScreen,
  domViolations,
  signedInOrAlert,
  signInWithNewPasskey,
  signInWithPassword,
  startWebRun,
  totpFor,
  type WebRun,
} from './browser.js';

describe('prescribing in the web app (Chromium, scrip serve)', () => {
  let run: WebRun | undefined;
  const started = (): WebRun => {
    if (run === undefined) throw new Error('not started');
    return run;
  };
  let prescriptionId = '';

  beforeAll(async () => {
    run = await startWebRun();
  }, 300_000);

  afterAll(async () => {
    await run?.close();
  });

  it('the agent finds the patient and drafts a Schedule II prescription', async () => {
    const r = started();
    const w = await r.page(true);
    const { page } = w;
    await signInWithPassword(page, r.origin, r.user('prescriber_agent'));
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Patients', exact: true })
      .click();
    await page.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
    await page.getByLabel('Search by').selectOption('mrn');
    await page.getByRole('textbox', { name: 'MRN' }).fill('DEMO-1001');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: 'Results' }).waitFor();
    // The search term never reaches the URL or the title.
    expect(page.url()).toBe(`${r.origin}/patients`);
    expect(await page.title()).toBe('Patients · Scrip');
    await checkScreen(w, 'patient-search');

    await page.getByRole('table', { name: 'Search results' }).getByRole('link').first().click();
    await page.getByRole('heading', { name: 'Allergies' }).waitFor();
    expect(page.url()).toMatch(/\/patients\/[0-9a-f-]{36}$/);
    expect(await page.title()).toBe('Patient summary · Scrip');
    await expect.poll(() => page.getByText('Penicillin G').count()).toBeGreaterThan(0);
    await checkScreen(w, 'patient-summary');

    await page.getByRole('link', { name: 'New prescription' }).click();
    await page.getByRole('heading', { name: 'New prescription' }).waitFor();
    await page.getByLabel('Drug name').fill('oxycodone');
    await page.getByRole('button', { name: 'Find drug' }).click();
    const controlled = page
      .getByRole('radiogroup', { name: 'Drugs found' })
      .getByRole('radio', { name: /Schedule/ })
      .first();
    await controlled.check();
    await page.getByText(/A controlled substance/).waitFor();
    await page.getByLabel('Quantity').fill('20');
    await page.getByLabel('Unit').fill('tablet');
    await page.getByLabel('Days supply').fill('5');
    await page.getByLabel('Refills').fill('0');
    await page
      .getByLabel('Directions (sig)')
      .fill('1 tablet by mouth every 6 hours as needed for pain');
    await page.getByLabel('Practice name').fill('Demo Clinic');
    await page.getByLabel('Street').fill('100 Capitol Mall');
    await page.getByLabel('City').fill('Sacramento');
    await page.getByLabel('State (2 letters)').fill('CA');
    await page.getByLabel('ZIP code').fill('95814');
    await checkScreen(w, 'new-prescription');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page
      .getByRole('heading', { name: 'Safety checks' })
      .waitFor({ timeout: 15_000 })
      .catch(async () => {
        throw new Error(
          `draft not saved: ${await page
            .getByRole('alert')
            .allInnerTexts()
            .then((t) => t.join(' | '))}`,
        );
      });
    const m = /\/prescriptions\/([0-9a-f-]{36})$/.exec(page.url());
    expect(m).not.toBeNull();
    prescriptionId = m?.[1] ?? '';
    await expect.poll(() => page.getByText('draft', { exact: true }).count()).toBeGreaterThan(0);
    // The agent prepares; signing is not offered (21 CFR 1311.135).
    expect(await page.getByRole('button', { name: 'Mark ready to sign' }).count()).toBe(0);
    await checkScreen(w, 'prescription-draft');

    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Drafts', exact: true })
      .click();
    await page.getByRole('heading', { name: 'Drafts and prescriptions to sign' }).waitFor();
    await page.locator(`a[href="/prescriptions/${prescriptionId}"]`).waitFor();
    await checkScreen(w, 'drafts-queue');
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await w.close();
    expect(w.violations).toEqual([]);
  });

  it('the prescriber signs in with a passkey, reviews, steps up with TOTP on the EPCS screen and signs', async () => {
    const r = started();
    expect(prescriptionId).not.toBe('');
    const w = await r.page(true);
    const { page } = w;
    const prescriber = r.user('prescriber');
    // First sign-in with a recovery code (the TOTP code of this step stays unspent), a passkey
    // added on the account screen, then the passkey sign-in.
    await signInWithNewPasskey(w, r, () => checkScreen(w, 'account'));
    await page.goto(`${r.origin}/prescriptions/${prescriptionId}`);
    await page.getByRole('heading', { name: 'Review and sign' }).waitFor();
    for (const input of await page.getByLabel('Override reason').all()) {
      await input.fill('Reviewed with the patient; benefit outweighs the risk');
    }
    await checkScreen(w, 'prescription-review');
    await page.getByRole('button', { name: 'Mark ready to sign' }).click();
    await page.getByText('Marked ready to sign.').waitFor();
    await page.getByRole('link', { name: 'Open the EPCS signing screen' }).click();

    await page.getByRole('heading', { name: 'Sign controlled substance prescriptions' }).waitFor();
    await page
      .getByText(/Schedule/)
      .first()
      .waitFor();
    await page
      .locator(`fieldset[data-rx="${prescriptionId}"]`)
      .getByLabel('Sign this prescription')
      .check();
    await page.getByLabel(/I have reviewed these prescriptions/).check();
    await checkScreen(w, 'epcs-review');
    await page.getByRole('button', { name: /with two-factor authentication/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    // EPCS signing takes the TOTP only (the bound, proofed factor), not the passkey.
    expect(await dialog.getByRole('button', { name: 'Use a passkey' }).count()).toBe(0);
    await checkScreen(w, 'epcs-step-up');
    await dialog.getByLabel('Authenticator code').fill(await totpFor(prescriber));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page
      .getByText(/Signed 1 prescription/)
      .waitFor({ timeout: 20_000 })
      .catch(async () => {
        throw new Error(
          `not signed: ${(await page.getByRole('alert').allInnerTexts()).join(' | ')}`,
        );
      });
    await checkScreen(w, 'epcs-signed');

    await page.goto(`${r.origin}/prescriptions/${prescriptionId}`);
    await page.getByRole('heading', { name: 'Delivery timeline' }).waitFor();
    await expect.poll(() => page.getByText('Signed', { exact: true }).count()).toBeGreaterThan(0);
    // The delivery timeline has the queued event at least.
    await page
      .getByRole('list', { name: 'Delivery events, oldest first' })
      .getByText('queued')
      .first()
      .waitFor();
    // Signed: immutable, no longer offered for review.
    expect(await page.getByRole('heading', { name: 'Review and sign' }).count()).toBe(0);
    expect(await page.locator('.badge').first().innerText()).toMatch(
      /^(signed|queued|transmitted|acknowledged)$/,
    );
    await checkScreen(w, 'prescription-signed');

    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Pharmacy requests' })
      .click();
    await page.getByRole('heading', { name: 'Pharmacy requests' }).waitFor();
    await page
      .getByText('No renewal or change request is waiting.')
      .or(page.getByRole('button', { name: 'Approve' }).first())
      .first()
      .waitFor();
    await checkScreen(w, 'pharmacy-requests');
    await w.close();
    expect(w.violations).toEqual([]);
  });

  it('the prescriber renews a signed prescription and changes another, each opening a linked draft; the agent has no cancel button', async () => {
    const r = started();
    const signed = r.seed.prescriptions.find(
      (p) => p.status !== 'draft' && p.status !== 'ready' && p.status !== 'cancelled',
    );
    const ready = r.seed.prescriptions.find((p) => p.status === 'ready');
    const signedId = signed?.id ?? '';
    const readyId = ready?.id ?? '';
    expect(signedId).not.toBe('');
    expect(readyId).not.toBe('');

    // The agent may renew and change (rx.draft) but not cancel (no rx.cancel).
    const aw = await r.page(true);
    await signInWithPassword(aw.page, r.origin, r.user('prescriber_agent'));
    await aw.page.goto(`${r.origin}/prescriptions/${signedId}`);
    const agentActions = aw.page.getByRole('region', { name: 'Actions' });
    await agentActions.getByRole('button', { name: 'Renew' }).waitFor();
    expect(await agentActions.getByRole('button', { name: 'Change…' }).count()).toBe(1);
    expect(await aw.page.getByRole('button', { name: 'Cancel prescription' }).count()).toBe(0);
    await checkScreen(aw, 'prescription-actions-agent');
    await aw.close();
    expect(aw.violations).toEqual([]);

    // The prescriber renews the signed one unchanged: the new draft opens, linked to it.
    const w = await r.page(true);
    const { page } = w;
    const prescriber = r.user('prescriber');
    await signInWithPassword(page, r.origin, prescriber);
    await page.goto(`${r.origin}/prescriptions/${signedId}`);
    await page.getByRole('button', { name: 'Cancel prescription' }).waitFor();
    const before = await page.locator('dl.facts').innerText();
    await checkScreen(w, 'prescription-actions');
    await page.getByRole('button', { name: 'Renew' }).click();
    const renewal = await linkedDraft(page, signedId, 'Renewal of');
    expect(renewal).not.toBe(signedId);
    const quantity = /Quantity\s+(\S+ \S+)/.exec(before)?.[1] ?? '?';
    expect(await page.locator('dl.facts').innerText()).toContain(quantity);
    await checkScreen(w, 'prescription-renewal-draft');

    // It signs the ready one (step-up), then changes it: quantity, days supply, directions.
    await page.goto(`${r.origin}/prescriptions/${readyId}`);
    await page.getByRole('heading', { name: 'Review and sign' }).waitFor();
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
    await stepUp.waitFor();
    await stepUp.getByLabel('Authenticator code').fill(await totpFor(prescriber));
    await stepUp.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Signed and queued for the pharmacy.').waitFor({ timeout: 20_000 });
    const change = page.getByRole('button', { name: 'Change…' });
    await change.click();
    expect(await change.getAttribute('aria-expanded')).toBe('true');
    // Nothing edited: refused in the page, nothing created.
    await page.getByRole('button', { name: 'Make the change draft' }).click();
    await page.getByRole('alert').filter({ hasText: 'Nothing was changed' }).waitFor();
    expect(page.url()).toBe(`${r.origin}/prescriptions/${readyId}`);
    await page.getByLabel('Quantity').fill('60');
    expect(await page.getByRole('alert').count()).toBe(0);
    await page.getByLabel('Days supply').fill('60');
    await page.getByLabel('Directions (sig)').fill('Take 1 tablet by mouth once daily with water');
    await checkScreen(w, 'prescription-change-form');
    await page.getByRole('button', { name: 'Make the change draft' }).click();
    await linkedDraft(page, readyId, 'Change of');
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).toMatch(/Quantity\s+60 tablet/);
    expect(facts).toMatch(/Days supply\s+60/);
    expect(facts).toContain('Take 1 tablet by mouth once daily with water');
    // The new page carries nothing over from the original's (its status note).
    expect(await page.getByText('Signed and queued for the pharmacy.').count()).toBe(0);
    await checkScreen(w, 'prescription-change-draft');

    // The original is unchanged and still signed.
    await page.getByRole('link', { name: 'the original prescription' }).click();
    await page.getByRole('button', { name: 'Change…' }).waitFor();
    expect(await page.locator('dl.facts').innerText()).toMatch(/Quantity\s+30 tablet/);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 300_000);

  it('a support user sees no clinical screen and no clinical field', async () => {
    const r = started();
    const w = await r.page(true);
    const { page } = w;
    await signInWithPassword(page, r.origin, r.user('support'));
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Patients' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Drafts' }).count()).toBe(0);
    await checkScreen(w, 'home-support');
    const patient = r.seed.patientIds[0] ?? '';
    for (const path of ['/patients', `/patients/${patient}`, '/drafts']) {
      await page.goto(`${r.origin}${path}`);
      await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    }
    const text = await page.locator('body').innerText();
    for (const phi of ['Demo-Rivera', 'DEMO-1001', 'oxycodone', 'Penicillin']) {
      expect(text.toLowerCase()).not.toContain(phi.toLowerCase());
    }
    await w.close();
    expect(w.violations).toEqual([]);
  });

  it('serves the app under the CSP; a care coordinator signs in with password and TOTP', async () => {
    const run = started();
    const w = await run.page(true);
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

    // With the keyboard alone: Tab through the form, Enter submits.
    const coordinator = run.user('care_coordinator');
    await page.keyboard.press('Tab');
    await page.keyboard.type(coordinator.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(coordinator.password);
    await page.keyboard.press('Tab');
    await page.keyboard.type(await totpFor(coordinator));
    await page.keyboard.press('Enter');
    await signedInOrAlert(page);
    // Then to a screen by keyboard: the skip link, the navigation, Enter on a link.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.getByRole('link', { name: 'Patients' }).first().focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    await page.goto(`${run.origin}/`);
    await page.getByRole('heading', { name: /^Welcome/ }).waitFor();
    expect(await page.title()).toBe('Home · Scrip');
    await checkScreen(w, 'home-care-coordinator');
    // Nothing in browser storage; the session lives in the server's HttpOnly cookie.
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    // A client route reloaded directly is the app again (SPA fallback), still signed in.
    await page.goto(`${run.origin}/account`);
    await page.getByRole('heading', { name: 'Account' }).waitFor();
    expect(await page.title()).toBe('Account · Scrip');
    // The server demands a step-up for new recovery codes: the step-up prompt appears, and the
    // request is retried once confirmed.
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
    await stepUp.waitFor();
    await stepUp.getByLabel('Authenticator code').fill(await totpFor(coordinator));
    await stepUp.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/New recovery codes made/).waitFor();
    expect(await page.locator('.note.warn li code').count()).toBe(10);
    await checkScreen(w, 'account-recovery-codes');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
    // The session is gone on the server too.
    const status = await page.evaluate("fetch('/api/v1/auth/session').then((r) => r.status)");
    expect(status).toBe(401);
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

/**
 * Waits for the draft a renewal or change opened (another prescription's page), linked back to
 * `originalId` under `label`; returns its id.
 */
async function linkedDraft(page: Page, originalId: string, label: string): Promise<string> {
  await page.waitForURL(
    (u) => /^\/prescriptions\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(originalId),
  );
  const facts = page.locator('dl.facts');
  await facts.getByText(label, { exact: true }).waitFor();
  expect(
    await facts.getByRole('link', { name: 'the original prescription' }).getAttribute('href'),
  ).toBe(`/prescriptions/${originalId}`);
  expect(await page.locator('.badge').first().innerText()).toBe('draft');
  await page.getByRole('heading', { name: 'Review and sign' }).waitFor();
  return new URL(page.url()).pathname.split('/').pop() ?? '';
}
