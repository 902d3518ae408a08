/**
 * The compliance and administration consoles in Chromium against a real, demo-seeded
 * `scrip serve` (test/web/browser.ts): the compliance officer, the auditor, the security
 * administrator and the tenant administrator sign in and visit each of their screens; every
 * screen is checked with axe (no serious or critical violation), screenshotted to
 * test-artifacts/web/, and watched for CSP violations. Without /usr/bin/chromium this fails; it
 * never skips.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoUser } from '../../src/cli/demo-seed.js';
import {
  checkScreen,
  signInWithPassword,
  startWebRun,
  totpFor,
  type WatchedPage,
  type WebRun,
} from './browser.js';

/** Goes to a screen through the navigation (keyboard: focus the link, press Enter). */
async function open(page: Page, nav: string, heading: string): Promise<void> {
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', {
    name: nav,
    exact: true,
  });
  await link.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  await settled(page);
  expect(await page.title()).toBe(`${heading} · Scrip`);
  // No PHI or search term in the URL: client routes are fixed paths without query strings.
  expect(new URL(page.url()).search).toBe('');
}

/** Waits until no loading note is on the page. */
async function settled(page: Page): Promise<void> {
  await expect.poll(async () => page.locator('.note.loading').count(), { timeout: 20_000 }).toBe(0);
}

async function visit(w: WatchedPage, nav: string, heading: string, shot: string): Promise<void> {
  await open(w.page, nav, heading);
  await checkScreen(w, shot);
}

/** GETs an API path from inside the signed-in page (same-origin, session cookie). */
async function getJson<T>(page: Page, path: string): Promise<T> {
  const body: unknown = await page.evaluate(async (p) => {
    const res = await fetch(p, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`GET ${p}: ${String(res.status)}`);
    const parsed: unknown = await res.json();
    return parsed;
  }, path);
  return body as T;
}

/** A local calendar day `offset` days from today, as a date input takes it. */
function day(offset: number): string {
  const d = new Date();
  d.setDate(d.getDate() + offset);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${String(d.getFullYear())}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function demoUser(run: WebRun, emailPrefix: string): DemoUser {
  const u = run.seed.users.find((x) => x.email.startsWith(emailPrefix));
  if (u === undefined) throw new Error(`no demo user ${emailPrefix}`);
  return u;
}

async function signOut(w: WatchedPage): Promise<void> {
  await w.page.getByRole('button', { name: 'Sign out' }).click();
  await w.page.getByRole('heading', { name: 'Sign in to Scrip' }).waitFor();
}

/** The action buttons a read-only auditor must never be offered (the server would answer 403). */
const MANAGE_BUTTONS: readonly RegExp[] = [
  /^Acknowledge/,
  /^Close/,
  /^Enable/,
  /^Disable/,
  /^Keep$/,
  /^Revoke$/,
  /^Record incident$/,
  /^Add vendor$/,
  /^Register integration$/,
  /^Record assessment$/,
  /^Record BAA$/,
  /^Renew/,
  /^Save renewal$/,
  /^Create campaign$/,
];

describe('the compliance and administration consoles in Chromium', () => {
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

  it('the tenant administrator manages users (role change with a step-up), reviews and EPCS', async () => {
    const run = started();
    // Each test starts signed out, whatever an earlier one left behind.
    await run.context.clearCookies();
    const w = await run.page();
    const { page } = w;
    const admin = run.user('tenant_admin');
    await signInWithPassword(page, run.origin, admin);
    await visit(w, 'Users', 'Users and roles', 'admin-users');
    // A role change of the demo staff user: the server asks for a step-up, the dialog takes it.
    const staff = run.user('staff');
    const row = page.getByRole('row').filter({ hasText: staff.email });
    await row.getByRole('button', { name: /^Change roles/ }).click();
    await row.getByRole('checkbox', { name: 'support' }).check();
    await row.getByRole('button', { name: 'Save roles' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await checkScreen(w, 'admin-step-up-dialog');
    await dialog.getByLabel('Authenticator code').fill(await totpFor(admin));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(async () => row.innerText()).toMatch(/staff, support|support, staff/);
    await visit(w, 'Access reviews', 'Access reviews', 'admin-access-reviews');
    await visit(w, 'EPCS permissions', 'EPCS permissions', 'admin-epcs');
    // The seed gave the demo prescriber EPCS permission through the two-person path.
    await page.getByRole('cell', { name: 'approved' }).first().waitFor();
    // Now the administrator enters a grant for the second registrant ...
    await page.getByLabel('Prescriber').selectOption({ label: 'Demo Registrant' });
    await page.getByRole('combobox', { name: /^Change/ }).selectOption('grant');
    await page.getByRole('button', { name: 'Request change' }).click();
    const pendingRow = page.getByRole('row').filter({ hasText: 'pending' });
    await pendingRow.waitFor();
    const requestId = await pendingRow.locator('code').innerText();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await checkScreen(w, 'admin-epcs-requested');
    await signOut(w);

    // ... and the other registrant approves it with a step-up, by keyboard.
    const approver = demoUser(run, 'prescriber-prescriber@');
    await signInWithPassword(page, run.origin, approver);
    await visit(w, 'EPCS approvals', 'EPCS approvals', 'prescriber-epcs-approvals');
    await page.getByLabel('Request id').fill(requestId);
    await page.getByLabel('Request id').press('Enter');
    const confirm = page.getByRole('dialog', { name: 'Confirm it is you' });
    await confirm.waitFor();
    // Escape cancels; the screen says why nothing happened.
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('alert').filter({ hasText: 'second factor' }).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await confirm.waitFor();
    await page.keyboard.type(await totpFor(approver));
    await page.keyboard.press('Enter');
    await page.getByText('Approved: grant of EPCS signing, status approved.').waitFor();
    await checkScreen(w, 'prescriber-epcs-approved');
    await signOut(w);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 240_000);

  it('the compliance officer searches the audit log, downloads a proof, acknowledges an alert, runs the controls and meets the BAA gate', async () => {
    const run = started();
    // Each test starts signed out, whatever an earlier one left behind.
    await run.context.clearCookies();
    const w = await run.page();
    const { page } = w;
    const officer = run.user('compliance_officer');
    await signInWithPassword(page, run.origin, officer);

    // Audit search: the officer's own sign-in, and a proof for it.
    await visit(w, 'Audit', 'Audit log', 'compliance-audit');
    await page.getByText('Log verification:').waitFor();
    await page.getByLabel('Actor user id').fill(officer.userId);
    await page.getByLabel('Action').fill('auth.login.success');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await settled(page);
    const signIn = page.getByRole('row').filter({ hasText: 'auth.login.success' }).first();
    await signIn.waitFor();
    // A checkpoint is signed every minute: the proof is ready once one covers the record.
    let downloaded: string | undefined;
    const deadline = Date.now() + 120_000;
    while (downloaded === undefined) {
      const proofButton = signIn.getByRole('button', { name: /^Download inclusion proof/ });
      const pending = page.waitForEvent('download', { timeout: 10_000 }).catch(() => undefined);
      await proofButton.click();
      const dl = await pending;
      if (dl !== undefined) {
        expect(dl.suggestedFilename()).toMatch(/^audit-inclusion-proof-\d+\.json$/);
        downloaded = readFileSync(await dl.path(), 'utf8');
      } else {
        if (Date.now() > deadline) throw new Error('no inclusion proof within two minutes');
        await page.waitForTimeout(5000);
      }
    }
    const bundle = JSON.parse(downloaded) as { type: string; leaf?: string };
    expect(bundle.type).toBe('scrip.audit.inclusion-proof');
    await signIn.getByText('Included').waitFor();
    await checkScreen(w, 'compliance-audit-proof');

    // Alerts: the seed's EPCS grant and the administrator's role change raised some.
    await visit(w, 'Alerts', 'Alerts', 'compliance-alerts');
    const ack = page.getByRole('button', { name: /^Acknowledge / }).first();
    await expect
      .poll(
        async () => {
          if ((await ack.count()) > 0) return true;
          await page.reload();
          await settled(page);
          return false;
        },
        { timeout: 60_000, interval: 3000 },
      )
      .toBe(true);
    const before = await page.getByRole('button', { name: /^Acknowledge / }).count();
    await ack.click();
    await expect
      .poll(async () => page.getByRole('button', { name: /^Acknowledge / }).count())
      .toBe(before - 1);
    await page.getByLabel('Show').selectOption('acknowledged');
    await settled(page);
    await page
      .getByRole('cell', { name: /^acknowledged/ })
      .first()
      .waitFor();

    await visit(w, 'Break-glass', 'Break-glass reviews', 'compliance-break-glass');
    await visit(w, 'Access reviews', 'Access reviews', 'compliance-access-reviews');
    await visit(w, 'Risks', 'Risk register', 'compliance-risks');
    await page.getByRole('table', { name: /^Inherent risk/ }).waitFor();
    expect(await page.getByRole('rowheader', { name: 'Likelihood 5' }).count()).toBe(2);
    await page.getByText('Record a risk').click();
    await page.getByLabel('Risk title').fill('Stolen workstation');
    await page.getByLabel('Threat').fill('Theft of an unattended workstation');
    await page.getByLabel('Vulnerability').fill('No screen lock on shared stations');
    // Assets come from the inventory (the demo seed synced Scrip's own components).
    await page
      .getByLabel(/^Assets/)
      .selectOption({ label: 'Clinician browsers and API clients (endpoint)' });
    await page.getByRole('combobox', { name: /^Likelihood/ }).selectOption('4');
    await page.getByRole('combobox', { name: /^Impact/ }).selectOption('5');
    await page.getByRole('button', { name: 'Record risk' }).click();
    await page.getByRole('cell', { name: 'Stolen workstation' }).waitFor();
    const cell = page
      .getByRole('table', { name: /^Inherent risk/ })
      .getByRole('row', { name: /^Likelihood 4/ })
      .getByRole('cell')
      .nth(4);
    await expect.poll(async () => (await cell.textContent())?.trim()).toMatch(/^1 \(high band\)$/);
    await checkScreen(w, 'compliance-risks-recorded');

    await visit(w, 'Incidents', 'Incidents', 'compliance-incidents');
    await page.getByText('Record an incident').click();
    await page.getByLabel('Title').fill('Lost laptop (test)');
    await page.getByLabel('Category').selectOption('lost_device');
    await page.getByRole('button', { name: 'Record incident' }).click();
    await page.getByRole('heading', { name: 'Lost laptop (test)' }).waitFor();
    await page.getByText('No breach assessment yet').waitFor();
    // The four-factor assessment (45 CFR 164.402(2)) through its form.
    const card = page.getByRole('listitem').filter({ hasText: 'Lost laptop (test)' });
    await card.getByText('Assess breach risk').click();
    const form = card.getByRole('form', { name: 'Breach risk assessment' });
    const factor = (n: string) =>
      form.getByRole('group', { name: new RegExp(`^164\\.402\\(2\\)\\(${n}\\) `) });
    for (const [n, rating, why] of [
      ['i', 'high', 'Names, dates of birth and medication lists, unencrypted'],
      ['ii', 'moderate', 'Unknown finder of a laptop left on a train'],
      ['iii', 'high', 'Cannot rule out that the files were opened'],
      ['iv', 'low', 'Remote wipe not confirmed'],
    ] as const) {
      await factor(n).getByLabel('Risk of compromise').selectOption(rating);
      await factor(n).getByLabel('Rationale').fill(why);
    }
    await form.getByLabel(/^Conclusion/).selectOption('low_probability');
    await form.getByLabel(/^Reasoning for the conclusion/).fill('Unencrypted laptop lost (test)');
    await form.getByLabel(/^Affected individuals by State/).fill('CA 12, ZZ 3');
    await form.getByRole('button', { name: 'Record assessment' }).click();
    // Client-side: a factor rated high rules out a low probability of compromise.
    await form
      .getByRole('alert')
      .filter({ hasText: 'does not support a low probability' })
      .waitFor();
    await checkScreen(w, 'compliance-breach-assessment-form');
    // Server-side: ZZ is no State; the refusal names the entry and carries the request id.
    await form.getByLabel(/^Conclusion/).selectOption('breach');
    await form.getByRole('button', { name: 'Record assessment' }).click();
    const refused = form.getByRole('alert').filter({ hasText: 'Recording the assessment' });
    await refused.waitFor();
    expect(await refused.innerText()).toContain('affectedByJurisdiction');
    expect(await refused.getByText('Request id').innerText()).toMatch(/Request id \S+/);
    await form.getByLabel(/^Affected individuals by State/).fill('CA 12, NY 3');
    await form.getByRole('button', { name: 'Record assessment' }).click();
    await card.getByRole('status').filter({ hasText: 'Assessment version 1 recorded' }).waitFor();
    await card.getByText('Breach: notification required').first().waitFor();
    await card.getByText('Unencrypted laptop lost (test)').waitFor();
    await card.getByText(/15 individuals affected/).waitFor();
    // The deadlines come from the server and the screen counts them down live.
    const clock = card.getByRole('table', { name: 'Breach notification deadlines' });
    await clock.waitFor();
    const timer = clock.locator('time').first();
    const first = await timer.innerText();
    expect(first).toMatch(/^\d+d \d\d:\d\d:\d\d$/);
    await expect.poll(async () => timer.innerText(), { timeout: 5000 }).not.toBe(first);
    await card.getByText(/The individual notice still lacks: whatHappened/).waitFor();
    // A revision starts from the current assessment; the notice content makes the letter.
    await card.getByText('Revise the breach assessment').click();
    const revision = card.getByRole('form', { name: 'Breach risk assessment' });
    expect(await revision.getByLabel(/^Affected individuals by State/).inputValue()).toBe(
      'CA 12, NY 3',
    );
    const phi = revision.getByRole('group', { name: 'Kinds of PHI involved' });
    await phi.getByLabel('full name').check();
    await phi.getByLabel('medications and prescription details').check();
    await revision.getByLabel('What happened').fill('A work laptop was lost on a train.');
    await revision.getByLabel('Steps individuals should take').fill('Watch for unusual bills.');
    await revision.getByLabel('What we are doing').fill('Encrypting every laptop.');
    await revision.getByLabel('Toll-free number').fill('1-800-555-0100');
    await revision.getByLabel('Contact e-mail').fill('privacy@clinic.example');
    await checkScreen(w, 'compliance-breach-assessment-revision');
    await revision.getByRole('button', { name: 'Record assessment' }).click();
    await card.getByRole('status').filter({ hasText: 'Assessment version 2 recorded' }).waitFor();
    await expect
      .poll(async () => card.getByText(/The individual notice still lacks/).count())
      .toBe(0);
    await card.getByText('Earlier assessments (1)').waitFor();
    await card.getByRole('button', { name: 'Show the draft notice letter' }).click();
    const letter = card.getByRole('region', { name: 'Draft notice letter' });
    await letter
      .getByRole('heading', { name: /^Notice of a breach of your health information/ })
      .waitFor();
    expect(await letter.innerText()).toContain('1-800-555-0100');
    const incidentList = await getJson<{ incidents: { id: string; current: { title: string } }[] }>(
      page,
      '/api/v1/compliance/incidents',
    );
    const incidentId = incidentList.incidents.find(
      (i) => i.current.title === 'Lost laptop (test)',
    )?.id;
    const history = await getJson<{
      assessments: { version: number; decision: string; affectedTotal: number }[];
    }>(page, `/api/v1/compliance/incidents/${incidentId ?? '-'}/breach/assessments`);
    expect(history.assessments.map((a) => [a.version, a.decision, a.affectedTotal])).toEqual([
      [1, 'breach', 15],
      [2, 'breach', 15],
    ]);
    await checkScreen(w, 'compliance-incidents-breach-clock');

    await visit(w, 'Controls', 'Controls', 'compliance-controls');
    await page.getByRole('button', { name: 'Run control checks' }).click();
    await page.getByText(/passed, \d+ failed/).waitFor({ timeout: 60_000 });
    expect(
      await page.getByRole('table', { name: 'Control results' }).getByRole('row').count(),
    ).toBeGreaterThan(1);
    const evidence = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export evidence (JSON)' }).click();
    expect((await evidence).suggestedFilename()).toMatch(
      /^control-evidence-[\d-]+-[0-9a-f]+\.json$/,
    );
    await checkScreen(w, 'compliance-controls-run');

    // The BAA gate: a vendor without a BAA cannot receive PHI; the server's reason is shown.
    await visit(w, 'Vendors', 'Vendors and BAAs', 'compliance-vendors');
    await page.getByText('Add a vendor').click();
    await page.getByLabel('Vendor name').fill('Webhook Relay Inc');
    await page.getByRole('button', { name: 'Add vendor' }).click();
    await page.getByRole('cell', { name: 'Webhook Relay Inc' }).waitFor();
    await page.getByRole('cell', { name: 'no BAA' }).first().waitFor();
    await visit(w, 'Integrations', 'Integrations', 'compliance-integrations');
    await page.getByText('Register an integration').click();
    await page.getByLabel('Integration name').fill('Pager webhook');
    await page.getByLabel('Reference (URL or endpoint id)').fill('https://hooks.example.test/p');
    await page.getByLabel('Vendor').selectOption({ label: 'Webhook Relay Inc' });
    await page.getByRole('button', { name: 'Register integration' }).click();
    await page.getByRole('button', { name: 'Enable Pager webhook' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Refused:' });
    await refusal.waitFor();
    expect(await refusal.innerText()).toMatch(/BAA|business associate/i);
    expect(await refusal.innerText()).toContain('no_active_baa');
    await checkScreen(w, 'compliance-integration-refused');

    // A BAA with its signed document, then its renewal: the new expiry is what counts.
    await open(page, 'Vendors', 'Vendors and BAAs');
    await page.getByText('Record a BAA').click();
    const baaForm = page.getByRole('form', { name: 'New BAA' });
    await baaForm.getByLabel(/^Vendor/).selectOption({ label: 'Webhook Relay Inc' });
    await baaForm.getByLabel(/^Our organisation/).fill('Demo Clinic');
    await baaForm.getByLabel(/^Expires on/).fill(day(30));
    await baaForm
      .getByLabel('Permitted uses and disclosures')
      .fill('Delivering pager notifications');
    await baaForm.getByLabel('Signed agreement (PDF or image)').setInputFiles({
      name: 'baa.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4 signed test agreement'),
    });
    await checkScreen(w, 'compliance-baa-form');
    await baaForm.getByRole('button', { name: 'Record BAA' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'BAA with Webhook Relay Inc recorded' })
      .waitFor();
    const row = page.getByRole('row').filter({ hasText: 'Webhook Relay Inc' });
    await row.getByText(`in force, expires ${day(30)}`).waitFor();
    await row.getByRole('button', { name: 'Renew BAA with Webhook Relay Inc' }).click();
    const renewal = page.getByRole('form', { name: 'Renew the BAA with Webhook Relay Inc' });
    // An earlier date is refused by the browser (min), the same date by the form's own check.
    const newExpiry = renewal.getByLabel('New expiry date');
    await newExpiry.fill(day(10));
    await renewal.getByRole('button', { name: 'Save renewal' }).click();
    const underflow = await newExpiry.evaluate(
      (e) => (e as unknown as { validity: { rangeUnderflow: boolean } }).validity.rangeUnderflow,
    );
    expect(underflow).toBe(true);
    await newExpiry.fill(day(30));
    await renewal.getByRole('button', { name: 'Save renewal' }).click();
    await renewal.getByRole('alert').filter({ hasText: 'must be after' }).waitFor();
    await newExpiry.fill(day(400));
    await checkScreen(w, 'compliance-baa-renewal-form');
    await renewal.getByRole('button', { name: 'Save renewal' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `BAA with Webhook Relay Inc renewed: now expires ${day(400)}.` })
      .waitFor();
    await row.getByText(`in force, expires ${day(400)}`).waitFor();
    expect(await row.getByText(`expires ${day(30)}`).count()).toBe(0);
    await checkScreen(w, 'compliance-baa-renewed');
    const { vendors } = await getJson<{ vendors: { id: string; name: string }[] }>(
      page,
      '/api/v1/compliance/vendors',
    );
    const relay = vendors.find((v) => v.name === 'Webhook Relay Inc');
    const { baas } = await getJson<{
      baas: {
        vendorId: string;
        version: number;
        expiryDate: string;
        changeReason: string | null;
      }[];
    }>(page, '/api/v1/compliance/baas');
    expect(
      baas
        .filter((b) => b.vendorId === relay?.id)
        .map((b) => [b.version, b.expiryDate, b.changeReason]),
    ).toEqual([[2, day(400), 'Renewal']]);
    // With a BAA in force the gate now lets the integration send PHI.
    await open(page, 'Integrations', 'Integrations');
    await page.getByRole('button', { name: 'Enable Pager webhook' }).click();
    await page
      .getByRole('row')
      .filter({ hasText: 'Pager webhook' })
      .getByText('enabled', { exact: true })
      .waitFor();

    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await signOut(w);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 420_000);

  it('the compliance officer runs an access-review campaign end to end: create, open, attest, close', async () => {
    const run = started();
    await run.context.clearCookies();
    const w = await run.page();
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('compliance_officer'));
    await visit(w, 'Access reviews', 'Access reviews', 'compliance-access-reviews-before');
    await page.getByText('Create a campaign').click();
    await page.getByLabel('Campaign name').fill('Auditor recertification (test)');
    await page.getByLabel('Holders of these roles').check();
    // Client-side: a role scope needs a role.
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose at least one role' }).waitFor();
    await page.getByRole('group', { name: 'Roles to review' }).getByLabel('auditor').check();
    // Server-side: a reviewer who is no member holding access review is refused, with the field.
    await page.getByLabel(/^Other reviewers/).fill('00000000-0000-4000-8000-000000000000');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'Creating the campaign' });
    await refused.waitFor();
    expect(await refused.innerText()).toContain('reviewers');
    await refused.getByText('Request id').waitFor();
    await page.getByLabel(/^Other reviewers/).fill('');
    await checkScreen(w, 'compliance-campaign-form');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('status').filter({ hasText: 'created as a draft' }).waitFor();
    const campaignRow = page.getByRole('row').filter({ hasText: 'Auditor recertification (test)' });
    await campaignRow.getByRole('cell', { name: 'draft' }).waitFor();
    await page.getByText('A draft: its items are listed when it is opened.').waitFor();
    await page.getByRole('button', { name: 'Open Auditor recertification (test)' }).click();
    await page.getByRole('status').filter({ hasText: 'Opened' }).waitFor();
    await campaignRow.getByRole('cell', { name: 'open', exact: true }).waitFor();
    const items = page.getByRole('table', { name: 'Memberships to attest' });
    await items.waitFor();
    const auditor = run.user('auditor');
    const item = items
      .getByRole('row')
      .filter({ has: page.locator(`code[title="${auditor.userId}"]`) });
    await item.getByRole('cell', { name: 'auditor', exact: true }).waitFor();
    await checkScreen(w, 'compliance-campaign-open');
    // Closing with undecided items is refused unless accepted.
    await page.getByRole('button', { name: 'Close Auditor recertification (test)' }).click();
    await page.getByText('Some items are undecided').waitFor();
    // Every item in scope is kept (each decision shows at once; the buttons stay while open).
    const rows = items.locator('tbody tr');
    const count = await rows.count();
    expect(count).toBeGreaterThan(0);
    for (let i = 0; i < count; i++) {
      await rows.nth(i).getByRole('button', { name: 'Keep' }).click();
      await rows.nth(i).getByText('keep', { exact: true }).waitFor();
    }
    await item.getByText('keep', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Close Auditor recertification (test)' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Closed: \d+ kept, 0 revoked, 0 unreviewed\.$/ })
      .waitFor();
    await campaignRow.getByRole('cell', { name: 'closed' }).waitFor();
    await checkScreen(w, 'compliance-campaign-closed');
    const { campaigns } = await getJson<{
      campaigns: { id: string; name: string; status: string }[];
    }>(page, '/api/v1/access-reviews');
    const created = campaigns.find((c) => c.name === 'Auditor recertification (test)');
    expect(created?.status).toBe('closed');
    const detail = await getJson<{
      scopeRoles: string[];
      items: { userId: string; outcome: string | null }[];
    }>(page, `/api/v1/access-reviews/${created?.id ?? '-'}`);
    expect(detail.scopeRoles).toEqual(['auditor']);
    expect(detail.items.find((i) => i.userId === auditor.userId)?.outcome).toBe('kept');
    expect(detail.items.every((i) => i.outcome === 'kept')).toBe(true);
    await signOut(w);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 240_000);

  it('the auditor reads every compliance screen and is offered no action it cannot take', async () => {
    const run = started();
    // Each test starts signed out, whatever an earlier one left behind.
    await run.context.clearCookies();
    const w = await run.page();
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('auditor'));
    const screens: [string, string, string][] = [
      ['Audit', 'Audit log', 'auditor-audit'],
      ['Alerts', 'Alerts', 'auditor-alerts'],
      ['Risks', 'Risk register', 'auditor-risks'],
      ['Incidents', 'Incidents', 'auditor-incidents'],
      ['Vendors', 'Vendors and BAAs', 'auditor-vendors'],
      ['Controls', 'Controls', 'auditor-controls'],
      ['Integrations', 'Integrations', 'auditor-integrations'],
    ];
    for (const [nav, heading, shot] of screens) {
      await visit(w, nav, heading, shot);
      for (const name of MANAGE_BUTTONS) {
        expect(await page.getByRole('button', { name }).count(), `${heading}: ${name.source}`).toBe(
          0,
        );
      }
      expect(
        await page
          .getByText(
            /^(Record an incident|Add a vendor|Register an integration|Assess breach risk|Revise the breach assessment|Record a BAA)$/,
          )
          .count(),
      ).toBe(0);
    }
    // The records the officer made are there to read, with no form to change them: the breach
    // determination and its letter (a read), the renewed BAA without a renew button.
    await open(page, 'Incidents', 'Incidents');
    const assessed = page.getByRole('listitem').filter({ hasText: 'Lost laptop (test)' });
    await assessed.getByText('Breach: notification required').first().waitFor();
    await assessed.getByRole('table', { name: 'Breach notification deadlines' }).waitFor();
    await assessed.getByRole('button', { name: 'Show the draft notice letter' }).waitFor();
    expect(await page.getByRole('form', { name: 'Breach risk assessment' }).count()).toBe(0);
    await open(page, 'Vendors', 'Vendors and BAAs');
    await page
      .getByRole('row')
      .filter({ hasText: 'Webhook Relay Inc' })
      .getByText(/^in force, expires/)
      .waitFor();
    expect(await page.getByRole('button', { name: /^Renew BAA/ }).count()).toBe(0);
    // The acknowledged alert is listed, without buttons.
    await open(page, 'Alerts', 'Alerts');
    await page.getByLabel('Show').selectOption('');
    await settled(page);
    expect(await page.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);
    // The auditor may run the control checks (compliance.read): that button is there.
    await open(page, 'Controls', 'Controls');
    await page.getByRole('button', { name: 'Run control checks' }).waitFor();
    // Screens of other roles are neither listed nor reachable.
    for (const nav of ['Break-glass', 'Access reviews', 'Users', 'Keys']) {
      expect(await page.getByRole('link', { name: nav, exact: true }).count()).toBe(0);
    }
    await page.goto(`${run.origin}/compliance/break-glass`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await signOut(w);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 180_000);

  it('the security administrator sees keys, grants, the context policy, users and alerts', async () => {
    const run = started();
    // Each test starts signed out, whatever an earlier one left behind.
    await run.context.clearCookies();
    const w = await run.page();
    const { page } = w;
    const sec: DemoUser = run.user('security_admin');
    await signInWithPassword(page, run.origin, sec);
    await visit(w, 'Audit', 'Audit log', 'security-audit');
    await visit(w, 'Alerts', 'Alerts', 'security-alerts');
    await visit(w, 'Break-glass', 'Break-glass reviews', 'security-break-glass');
    await visit(w, 'Users', 'Users and roles', 'security-users');
    // user.read only: no invitation and no role change for the security administrator.
    expect(await page.getByText('Invite someone').count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Change roles/ }).count()).toBe(0);
    await visit(w, 'Grants', 'Access grants', 'security-grants');
    await visit(w, 'Context policy', 'Context policy', 'security-context-policy');
    await page.getByText(/No context policy is in force|is in force/).waitFor();
    await visit(w, 'Keys', 'Keys', 'security-keys');
    await page.getByRole('table', { name: 'Data keys' }).waitFor();
    await signOut(w);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 180_000);
});
