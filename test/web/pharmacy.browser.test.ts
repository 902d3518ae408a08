/**
 * The pharmacist's screens and the cross-tenant flow of issue #10 in Chromium against a real,
 * demo-seeded `scrip serve` with the one-machine network on (test/web/browser.ts,
 * docs/network.md): the demo clinic and the demo pharmacy are two tenants that exchange NCPDP
 * SCRIPT over mutual TLS through the local switch and the network listener.
 *
 * 1. The demo seed's signed prescription reaches the pharmacy's inbox; the pharmacist opens it
 *    with the keyboard, sees "Signature verified" with the clinic's signing key id, accepts it
 *    and dispenses it in two fills, then asks for a renewal.
 * 2. The technician sees the inbox and the prescription but no action button.
 * 3. The agent drafts a Schedule II prescription; the prescriber signs in with a passkey (CDP
 *    virtual authenticator) and signs it on the EPCS screen (TOTP step-up); the pharmacist sees
 *    it with a verified signature and dispenses it; the prescriber's delivery
 *    timeline shows acknowledged and dispensed; the clinic's compliance officer finds the
 *    pharmacy's messages in the audit search.
 * 4. The prescriber cancels a prescription the pharmacy accepted with the page's cancel button
 *    and its confirmation dialog; the pharmacist sees the request flagged in the inbox and
 *    approves it; the prescriber's timeline shows it confirmed.
 * 5. The pharmacy's outgoing messages are in its network outbox (read from the database).
 *
 * Every screen is checked with axe (no serious or critical violation), screenshotted to
 * test-artifacts/web/, and watched for CSP violations. Without /usr/bin/chromium this fails; it
 * never skips.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import {
  checkScreen,
  signInWithNewPasskey,
  signInWithPassword,
  startWebRun,
  totpFor,
  type WatchedPage,
  type WebRun,
} from './browser.js';
import { settled, withPlatform } from './run-helpers.js';

/** Opens the inbox through the navigation with the keyboard. */
async function openInbox(page: Page): Promise<void> {
  const link = page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Inbox', exact: true });
  await link.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Prescription inbox' }).waitFor();
  await settled(page);
  expect(await page.title()).toBe('Prescription inbox · Scrip');
  expect(new URL(page.url()).search).toBe('');
}

/** Refreshes the inbox until a prescription of `drug` is listed (it travels over the network). */
async function waitInInbox(page: Page, drug: RegExp | string): Promise<void> {
  const link = page.getByRole('table').getByRole('link', { name: drug });
  await expect
    .poll(
      async () => {
        if ((await link.count()) > 0) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        await settled(page);
        return (await link.count()) > 0;
      },
      { timeout: 60_000, interval: 1000 },
    )
    .toBe(true);
}

/** Opens the received prescription from the inbox (keyboard), checking the URL holds no PHI. */
async function openPrescription(page: Page, drug: RegExp | string): Promise<string> {
  const link = page.getByRole('table').getByRole('link', { name: drug }).first();
  await link.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Received prescription' }).waitFor();
  await settled(page);
  const url = new URL(page.url());
  const m = /^\/pharmacy\/inbox\/([0-9a-f-]{36})$/.exec(url.pathname);
  expect(m).not.toBeNull();
  expect(url.search).toBe('');
  expect(await page.title()).toBe('Received prescription · Scrip');
  return m?.[1] ?? '';
}

/** The kids of the server's published prescription-signing JWKS. */
async function signingKids(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    `fetch('/.well-known/jwks.json').then((r) => r.json()).then((j) => j.keys.map((k) => k.kid))`,
  );
}

/** Waits for the status line of a finished action; fails at once with a shown error. */
async function done(page: Page, text: string | RegExp): Promise<void> {
  const status = page.getByRole('status').filter({ hasText: text });
  const alert = page.getByRole('alert');
  await status.or(alert).first().waitFor({ timeout: 20_000 });
  if ((await alert.count()) > 0)
    throw new Error(`action failed: ${await alert.first().innerText()}`);
  await settled(page);
}

async function dispense(page: Page, quantity: string, expected: RegExp): Promise<void> {
  await page.getByLabel('Quantity dispensed').fill(quantity);
  await page.getByRole('button', { name: 'Record fill' }).click();
  await done(page, expected);
}

const STORAGE = `localStorage.length + sessionStorage.length`;

describe('the pharmacist in the browser (two tenants over the local network)', () => {
  let run: WebRun;
  const received: string[] = [];

  beforeAll(async () => {
    run = await startWebRun({ localNetwork: true });
    expect(run.seed.network, 'the demo seed connected the two tenants').toBeDefined();
  }, 600_000);
  afterAll(async () => {
    await run.close();
  });

  it('the pharmacist finds the demo prescription, sees its verified signature, accepts and dispenses it in two fills', async () => {
    const signed = run.seed.prescriptions.find(
      (p) => p.status !== 'draft' && p.status !== 'ready' && p.status !== 'cancelled',
    );
    expect(signed).toBeDefined();
    const drug = signed?.drug ?? '';
    const w = await run.page();
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('pharmacist', 'pharmacy'));
    await openInbox(page);
    await waitInInbox(page, drug);
    const row = page.getByRole('row').filter({ hasText: drug });
    expect(await row.innerText()).toContain('Received');
    expect(await row.innerText()).toContain('Signature verified');
    await checkScreen(w, 'pharmacy-inbox');

    received.push(await openPrescription(page, drug));
    const signature = page.getByRole('region', { name: 'Signature verified' });
    await signature.waitFor();
    const kids = await signingKids(page);
    const shown = await signature.innerText();
    expect(
      kids.some((k) => shown.includes(k)),
      `${shown} names one of ${kids.join(', ')}`,
    ).toBe(true);
    expect(shown).toContain(run.seed.network?.clinicAddress.replace(/^D:/, '') ?? '?');
    await checkScreen(w, 'pharmacy-prescription');

    // Accept with the keyboard, then a partial fill and the rest.
    const accept = page.getByRole('button', { name: 'Accept prescription' });
    await accept.focus();
    await page.keyboard.press('Enter');
    await done(page, 'Accepted; the prescriber is told.');
    expect(await page.getByRole('button', { name: 'Accept prescription' }).count()).toBe(0);
    const total = Number(await page.getByLabel('Quantity dispensed').inputValue());
    expect(total).toBeGreaterThan(1);
    const first = Math.floor(total / 2);
    await dispense(page, String(first), /Partial fill recorded/);
    expect(await page.locator('.rx-state').innerText()).toContain('Partially dispensed');
    await dispense(page, String(total - first), /Dispensed; the prescriber is told/);
    expect(await page.locator('.rx-state').innerText()).toContain('Dispensed');
    expect(await page.getByRole('button', { name: 'Record fill' }).count()).toBe(0);
    const history = page.getByRole('region', { name: 'History' });
    expect(await history.getByRole('row').count()).toBe(4); // header, accept, two fills
    await checkScreen(w, 'pharmacy-dispensed');

    await page.getByRole('button', { name: 'Send renewal request' }).click();
    await done(page, 'Renewal request sent');
    expect(await page.evaluate<number>(STORAGE)).toBe(0);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 300_000);

  it('the technician sees the inbox and the prescription but no action', async () => {
    const w = await run.page(true);
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('pharmacy_technician', 'pharmacy'));
    await openInbox(page);
    await checkScreen(w, 'pharmacy-technician-inbox');
    await page.getByRole('table').getByRole('link').first().waitFor();
    await openPrescription(page, /./);
    await page.getByRole('region', { name: 'Signature verified' }).waitFor();
    expect(await page.getByRole('region', { name: 'Actions' }).count()).toBe(0);
    for (const name of [
      'Accept prescription',
      'Record fill',
      'Approve cancellation',
      'Deny cancellation',
      'Send renewal request',
      'Send change request',
    ]) {
      expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await page.getByText('Only a pharmacist accepts and dispenses').count()).toBe(1);
    await checkScreen(w, 'pharmacy-technician-prescription');
    await w.close();
    expect(w.violations).toEqual([]);
  }, 300_000);

  it('the agent drafts a Schedule II, the prescriber signs in with a passkey and signs it (EPCS, TOTP); the pharmacy verifies and dispenses it; the prescriber sees acknowledged and dispensed; the compliance officer finds it in the audit', async () => {
    // The agent drafts it in the clinic.
    const aw = await run.page(true);
    await signInWithPassword(aw.page, run.origin, run.user('prescriber_agent'));
    const rxId = await prescribeScheduleII(aw, run);
    await aw.close();
    expect(aw.violations).toEqual([]);

    // The prescriber signs in with a passkey (CDP virtual authenticator), reviews it and signs
    // it on the EPCS screen with the TOTP step-up.
    const pw = await run.page(true);
    const prescriberPage = pw.page;
    const prescriber = run.user('prescriber');
    await signInWithNewPasskey(pw, run);
    await signEpcs(pw, run, rxId, await totpFor(prescriber));

    // The pharmacist (second tenant) sees it verified and dispenses it.
    const w = await run.page();
    const { page } = w;
    await page.goto(`${run.origin}/pharmacy/inbox`);
    await page.getByRole('heading', { level: 1, name: 'Prescription inbox' }).waitFor();
    await settled(page);
    await waitInInbox(page, /oxycodone/i);
    expect(
      await page
        .getByRole('row')
        .filter({ hasText: /oxycodone/i })
        .innerText(),
    ).toContain('Schedule CII');
    received.push(await openPrescription(page, /oxycodone/i));
    await page.getByRole('region', { name: 'Signature verified' }).waitFor();
    expect(await page.getByRole('region', { name: 'Medication' }).innerText()).toContain('CII');
    await checkScreen(w, 'pharmacy-controlled');
    await page.getByRole('button', { name: 'Accept prescription' }).click();
    await done(page, 'Accepted; the prescriber is told.');
    const total = await page.getByLabel('Quantity dispensed').inputValue();
    await dispense(page, total, /Dispensed; the prescriber is told/);
    await w.close();
    expect(w.violations).toEqual([]);

    // The prescriber's timeline: acknowledged and dispensed.
    const timeline = prescriberPage.getByRole('list', { name: 'Delivery events, oldest first' });
    await expect
      .poll(
        async () => {
          await prescriberPage.goto(`${run.origin}/prescriptions/${rxId}`);
          await prescriberPage.getByRole('heading', { name: 'Delivery timeline' }).waitFor();
          await settled(prescriberPage);
          const text = (await timeline.count()) > 0 ? await timeline.innerText() : '';
          return /acknowledged/.test(text) && /\bdispensed\b/.test(text);
        },
        { timeout: 60_000, interval: 2000 },
      )
      .toBe(true);
    await checkScreen(pw, 'prescription-dispensed-timeline');
    await pw.close();
    expect(pw.violations).toEqual([]);

    // The clinic's compliance officer finds the pharmacy's messages in the audit search.
    const cw = await run.page(true);
    await signInWithPassword(cw.page, run.origin, run.user('compliance_officer'));
    await cw.page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Audit', exact: true })
      .click();
    await cw.page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await cw.page.getByLabel('Action').fill('network.inbound.received');
    await cw.page.getByRole('button', { name: 'Search', exact: true }).click();
    await settled(cw.page);
    await expect
      .poll(async () =>
        cw.page.getByRole('row').filter({ hasText: 'network.inbound.received' }).count(),
      )
      .toBeGreaterThanOrEqual(3); // at least the Status and the two RxFill of the fills above
    await checkScreen(cw, 'audit-pharmacy-messages');
    await cw.close();
    expect(cw.violations).toEqual([]);
  }, 420_000);

  it('the prescriber cancels a prescription the pharmacy accepted; the pharmacist sees the request and approves it', async () => {
    const ready = run.seed.prescriptions.find((p) => p.status === 'ready');
    expect(ready).toBeDefined();
    const rxId = ready?.id ?? '';
    const drug = new RegExp(ready?.drug ?? '?', 'i');
    // The prescriber signs the demo's ready prescription (step-up with TOTP).
    const prescriber = run.user('prescriber');
    const pw = await run.page(true);
    await signInWithPassword(pw.page, run.origin, prescriber);
    await pw.page.goto(`${run.origin}/prescriptions/${rxId}`);
    await pw.page.getByRole('heading', { name: 'Review and sign' }).waitFor();
    await pw.page.getByRole('button', { name: 'Sign', exact: true }).click();
    const dialog = pw.page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await dialog.getByLabel('Authenticator code').fill(await totpFor(prescriber));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await pw.page.getByText('Signed and queued for the pharmacy.').waitFor({ timeout: 20_000 });

    // The pharmacist accepts it.
    const w = await run.page();
    const { page } = w;
    await page.goto(`${run.origin}/pharmacy/inbox`);
    await page.getByRole('heading', { level: 1, name: 'Prescription inbox' }).waitFor();
    await settled(page);
    await waitInInbox(page, drug);
    await openPrescription(page, drug);
    await page.getByRole('button', { name: 'Accept prescription' }).click();
    await done(page, 'Accepted; the prescriber is told.');

    // The prescriber cancels it on the prescription page. The confirmation says a cancel request
    // goes to the pharmacy, which answers; focus starts on "Keep it"; Escape closes it unchanged.
    await cancelOnPage(pw, run, rxId);

    // The CancelRx arrives: the inbox flags it; the pharmacist approves.
    await page.getByRole('link', { name: 'Back to the inbox' }).click();
    await page.getByRole('heading', { level: 1, name: 'Prescription inbox' }).waitFor();
    await settled(page);
    const row = page.getByRole('row').filter({ hasText: drug });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          await settled(page);
          return row.innerText();
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toContain('Cancel requested');
    await checkScreen(w, 'pharmacy-inbox-cancel-requested');
    await openPrescription(page, drug);
    await page
      .getByRole('group', { name: 'The prescriber asks to cancel this prescription' })
      .waitFor();
    expect(await page.getByRole('button', { name: 'Record fill' }).count()).toBe(0);
    await checkScreen(w, 'pharmacy-cancel-request');
    await page.getByRole('button', { name: 'Approve cancellation' }).click();
    await done(page, 'Cancellation approved');
    expect(await page.locator('.rx-state').innerText()).toContain('Cancelled');
    await w.close();
    expect(w.violations).toEqual([]);

    // The prescriber's timeline shows the pharmacy's answer.
    await expect
      .poll(
        async () => {
          await pw.page.goto(`${run.origin}/prescriptions/${rxId}`);
          await pw.page.getByRole('heading', { name: 'Delivery timeline' }).waitFor();
          await settled(pw.page);
          const list = pw.page.getByRole('list', { name: 'Delivery events, oldest first' });
          return (await list.count()) > 0 ? list.innerText() : '';
        },
        { timeout: 60_000, interval: 2000 },
      )
      .toContain('cancel confirmed');
    await pw.close();
    expect(pw.violations).toEqual([]);
  }, 300_000);

  it("the pharmacy's outgoing messages were queued for the prescriber system", async () => {
    expect(received).toHaveLength(2);
    // The server is stopped so the run's database can be read from here (embedded PostgreSQL
    // has one owner at a time).
    await run.serve.stop();
    const pharmacyTenant = asTenantId(run.seed.network?.pharmacyTenantId ?? '');
    const types = await withPlatform(run.env, 'pharmacy browser test', async (p) =>
      p.db.withTenant(pharmacyTenant, async (tx) => {
        const out: string[][] = [];
        for (const id of received) {
          const { rows } = await tx.query<{ message_type: string; to_qualifier: string }>(
            `SELECT o.message_type, o.to_qualifier FROM network_outbox o
               JOIN pharmacy_inbox i ON i.message_id = o.relates_to AND i.sender_id = o.to_address
              WHERE i.id = $1 ORDER BY o.created_at`,
            [id],
          );
          for (const r of rows) expect(r.to_qualifier).toBe('D');
          out.push(rows.map((r) => r.message_type));
        }
        return out;
      }),
    );
    expect(types).toEqual([
      ['Status', 'RxFill', 'RxFill', 'RxRenewalRequest'],
      ['Status', 'RxFill'],
    ]);
  }, 300_000);
});

/**
 * The prescriber opens the prescription and cancels it through the confirmation dialog (an
 * alertdialog: focus on "Keep it", Escape closes it and returns the focus), then sees it
 * cancelled with the cancel request in the delivery timeline.
 */
async function cancelOnPage(w: WatchedPage, run: WebRun, rxId: string): Promise<void> {
  const { page } = w;
  const focused = (): Promise<unknown> => page.evaluate('document.activeElement?.textContent');
  await page.goto(`${run.origin}/prescriptions/${rxId}`);
  await page.getByRole('heading', { name: 'Delivery timeline' }).waitFor();
  await settled(page);
  const cancel = page.getByRole('button', { name: 'Cancel prescription' });
  const dialog = page.getByRole('alertdialog', { name: 'Cancel this prescription?' });
  await cancel.click();
  await dialog.waitFor();
  expect(await dialog.innerText()).toMatch(/a cancel request \(CancelRx\) goes to it now/);
  expect(await dialog.innerText()).toMatch(/The pharmacy answers/);
  expect(await focused()).toBe('Keep it');
  await checkScreen(w, 'prescription-cancel-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  expect(await focused()).toBe('Cancel prescription');
  expect(await page.locator('.badge').first().innerText()).not.toBe('cancelled');

  await cancel.click();
  await dialog.getByRole('button', { name: 'Cancel and tell the pharmacy' }).click();
  await done(page, /A cancel request is on its way to the pharmacy/);
  await expect.poll(() => page.locator('.badge').first().innerText()).toBe('cancelled');
  expect(await cancel.count()).toBe(0);
  await page
    .getByRole('list', { name: 'Delivery events, oldest first' })
    .getByText('cancel requested')
    .waitFor();
  await checkScreen(w, 'prescription-cancel-requested');
}

/** The agent finds demo patient DEMO-1001 and saves a Schedule II draft; returns its id. */
async function prescribeScheduleII(w: WatchedPage, run: WebRun): Promise<string> {
  const { page } = w;
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Patients', exact: true })
    .click();
  await page.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
  await page.getByLabel('Search by').selectOption('mrn');
  await page.getByRole('textbox', { name: 'MRN' }).fill('DEMO-1001');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'Results' }).waitFor();
  await page.getByRole('table', { name: 'Search results' }).getByRole('link').first().click();
  await page.getByRole('heading', { name: 'Allergies' }).waitFor();
  await page.getByRole('link', { name: 'New prescription' }).click();
  await page.getByRole('heading', { name: 'New prescription' }).waitFor();
  await page.getByLabel('Drug name').fill('oxycodone');
  await page.getByRole('button', { name: 'Find drug' }).click();
  await page
    .getByRole('radiogroup', { name: 'Drugs found' })
    .getByRole('radio', { name: /Schedule/ })
    .first()
    .check();
  await page.getByText(/A controlled substance/).waitFor();
  await page.getByLabel('Quantity').fill('12');
  await page.getByLabel('Unit').fill('tablet');
  await page.getByLabel('Days supply').fill('3');
  await page.getByLabel('Refills').fill('0');
  await page
    .getByLabel('Directions (sig)')
    .fill('1 tablet by mouth every 6 hours as needed for pain');
  await page.getByLabel('Practice name').fill('Demo Clinic');
  await page.getByLabel('Street').fill('100 Capitol Mall');
  await page.getByLabel('City').fill('Sacramento');
  await page.getByLabel('State (2 letters)').fill('CA');
  await page.getByLabel('ZIP code').fill('95814');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page
    .getByRole('heading', { name: 'Safety checks' })
    .waitFor({ timeout: 15_000 })
    .catch(async () => {
      throw new Error(
        `draft not saved: ${(await page.getByRole('alert').allInnerTexts()).join(' | ')}`,
      );
    });
  const m = /\/prescriptions\/([0-9a-f-]{36})$/.exec(page.url());
  expect(m).not.toBeNull();
  expect(run.origin).not.toBe('');
  return m?.[1] ?? '';
}

/** Marks the draft ready and signs it on the EPCS screen with the TOTP step-up. */
async function signEpcs(w: WatchedPage, run: WebRun, rxId: string, code: string): Promise<void> {
  const { page } = w;
  await page.goto(`${run.origin}/prescriptions/${rxId}`);
  await page.getByRole('heading', { name: 'Review and sign' }).waitFor();
  for (const input of await page.getByLabel('Override reason').all()) {
    await input.fill('Reviewed with the patient; benefit outweighs the risk');
  }
  await page.getByRole('button', { name: 'Mark ready to sign' }).click();
  await page.getByText('Marked ready to sign.').waitFor();
  await page.getByRole('link', { name: 'Open the EPCS signing screen' }).click();
  await page.getByRole('heading', { name: 'Sign controlled substance prescriptions' }).waitFor();
  await page.locator(`fieldset[data-rx="${rxId}"]`).getByLabel('Sign this prescription').check();
  await page.getByLabel(/I have reviewed these prescriptions/).check();
  await page.getByRole('button', { name: /with two-factor authentication/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  await dialog.getByLabel('Authenticator code').fill(code);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page
    .getByText(/Signed 1 prescription/)
    .waitFor({ timeout: 20_000 })
    .catch(async () => {
      throw new Error(`not signed: ${(await page.getByRole('alert').allInnerTexts()).join(' | ')}`);
    });
}
