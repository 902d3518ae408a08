/**
 * The pharmacist's screens in Chromium against a real, demo-seeded `scrip serve`
 * (test/web/browser.ts). The demo clinic's signed NewRx (the one `scrip demo seed` signs and
 * queues) is received by the demo pharmacy tenant through the pharmacy receiver on the run's
 * database before the server starts: the receiver verifies the clinic's signature against the
 * JWKS the pharmacy trusts, exactly as the network listener would. Then the demo pharmacist signs
 * in, finds it in the inbox, sees "Signature verified" with the key id, accepts it and dispenses
 * it in two fills; the outgoing Status and RxFill messages are in the pharmacy's network outbox.
 * The technician sees the inbox and the prescription but no action. Every screen is checked
 * with axe (no serious or critical violation), screenshotted to test-artifacts/web/, and watched
 * for CSP violations. Without /usr/bin/chromium this fails; it never skips.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSeedResult } from '../../src/cli/demo-seed.js';
import { createLogger, loadConfig } from '../../src/config/index.js';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import { openRow, SHREDDED } from '../../src/crypto/row-cipher.js';
import { parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { newRxMessage } from '../../src/network/newrx-message.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { OUTBOX, type OutboxPayload } from '../../src/prescribing/prescription.outbox.js';
import { checkScreen, signInWithPassword, startWebRun, type WebRun } from './browser.js';

/** The demo clinic's network id as the pharmacy knows it (Header From, qualifier D). */
const CLINIC_SENDER = 'SCRIP-DEMO-CLINIC';

interface Received {
  readonly pharmacyTenant: TenantId;
  readonly keyId: string;
  readonly drug: string;
  readonly quantity: string;
  readonly messageId: string;
}

async function withPlatform<T>(
  env: NodeJS.ProcessEnv,
  fn: (p: Platform) => Promise<T>,
): Promise<T> {
  const p = await openPlatform(loadConfig(env), {
    logger: createLogger('warn'),
    lock: false,
    lockOwner: 'pharmacy browser test',
  });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

/**
 * Sets the demo pharmacy up (its pharmacy with the NCPDP ID the clinic's signed prescription is
 * addressed to, the pharmacist and the technician as its staff, the clinic's JWKS trusted) and
 * delivers that prescription to it through the pharmacy receiver.
 */
async function receiveDemoRx(env: NodeJS.ProcessEnv, seed: DemoSeedResult): Promise<Received> {
  const tenantOf = (kind: string): TenantId => {
    const t = seed.tenants.find((x) => x.kind === kind);
    if (t === undefined) throw new Error(`no demo ${kind}`);
    return asTenantId(t.id);
  };
  const clinic = tenantOf('clinic');
  const pharmacyTenant = tenantOf('pharmacy');
  const staff = seed.users.filter(
    (u) =>
      u.tenantId === pharmacyTenant &&
      (u.role === 'pharmacist' || u.role === 'pharmacy_technician'),
  );
  expect(staff).toHaveLength(2);
  return withPlatform(env, async (p) => {
    const row = await p.db.withTenant(clinic, async (tx) => {
      const { rows } = await tx.query<{ id: string; message_id: string; payload: Buffer }>(
        `SELECT id, message_id, payload FROM outbox WHERE kind = 'NewRx' ORDER BY created_at LIMIT 1`,
      );
      const r = rows[0];
      if (r === undefined) throw new Error('the demo seed queued no NewRx');
      const plain = await openRow(tx, p.keyring, clinic, OUTBOX, r.id, { payload: r.payload });
      if (plain === SHREDDED || plain.payload == null) throw new Error('payload unreadable');
      return { messageId: r.message_id, payload: JSON.parse(plain.payload) as OutboxPayload };
    });
    const ncpdpId = row.payload.prescription.pharmacy.ncpdpId;
    const actor = { kind: 'cli' } as const;
    const existing = (await p.pharmacy.setup.listLocations(pharmacyTenant)).find(
      (l) => l.ncpdpId === ncpdpId,
    );
    const location =
      existing ??
      (await p.pharmacy.setup.createLocation(
        pharmacyTenant,
        { ncpdpId, name: 'Demo Street Pharmacy 1' },
        actor,
      ));
    for (const u of staff) {
      if (!location.members.includes(u.userId)) {
        await p.pharmacy.setup.addMember(pharmacyTenant, location.id, u.userId, actor);
      }
    }
    const key = await p.signingKeys.active();
    await p.pharmacy.setup.trustSender(
      pharmacyTenant,
      CLINIC_SENDER,
      await p.signingKeys.jwks(),
      actor,
    );
    const wire = newRxMessage({
      type: 'NewRx',
      messageId: row.messageId,
      payload: row.payload,
      pharmacy: { ncpdpId, npi: '1234567893', name: 'Demo Street Pharmacy 1' },
      from: { qualifier: 'D', id: CLINIC_SENDER },
      sentTime: new Date(),
    });
    const parsed = parseMessage(wire.xml);
    if (!parsed.ok) throw new Error(`NewRx does not parse: ${parsed.error.code}`);
    const answer = await p.db.withTenant(pharmacyTenant, (tx) =>
      p.pharmacy.receiver.receiveAtPharmacy(tx, pharmacyTenant, parsed.message, wire.jws, {
        xml: wire.xml,
      }),
    );
    expect(answer.outcome, answer.xml).toBe('accepted');
    return {
      pharmacyTenant,
      keyId: key.keyId,
      drug:
        parsed.message.type === 'NewRx'
          ? parsed.message.body.medicationPrescribed.drugDescription
          : '',
      quantity: String(row.payload.prescription.quantity.value),
      messageId: parsed.message.header.messageId,
    };
  });
}

/** Waits until no loading note is on the page. */
async function settled(page: Page): Promise<void> {
  await expect.poll(async () => page.locator('.note.loading').count(), { timeout: 20_000 }).toBe(0);
}

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
}

/** Opens the received prescription from the inbox (keyboard), checking the URL holds no PHI. */
async function openPrescription(page: Page, drug: string): Promise<void> {
  const link = page.getByRole('link', { name: drug, exact: true });
  await link.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Received prescription' }).waitFor();
  await settled(page);
  const url = new URL(page.url());
  expect(url.pathname).toMatch(/^\/pharmacy\/inbox\/[0-9a-f-]{36}$/);
  expect(url.search).toBe('');
  expect(await page.title()).toBe('Received prescription · Scrip');
}

const PHI_STORAGE = `(() => [localStorage.length, sessionStorage.length])()`;

describe('the pharmacist in the browser', () => {
  let run: WebRun;
  let rx: Received;

  beforeAll(async () => {
    run = await startWebRun({
      beforeServe: async (env, seed) => {
        rx = await receiveDemoRx(env, seed);
      },
    });
  }, 600_000);
  afterAll(async () => {
    await run.close();
  });

  it('the pharmacist finds the prescription, sees its verified signature, accepts and dispenses it in two fills', async () => {
    const w = await run.page();
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('pharmacist', 'pharmacy'));
    await openInbox(page);
    const row = page.getByRole('row').filter({ hasText: rx.drug });
    await expect.poll(async () => row.count()).toBe(1);
    expect(await row.innerText()).toContain('Received');
    expect(await row.innerText()).toContain('Signature verified');
    await checkScreen(w, 'pharmacy-inbox');

    await openPrescription(page, rx.drug);
    const signature = page.getByRole('region', { name: 'Signature verified' });
    await signature.waitFor();
    expect(await signature.innerText()).toContain(rx.keyId);
    expect(await signature.innerText()).toContain(CLINIC_SENDER);
    await checkScreen(w, 'pharmacy-prescription');

    // Accept (keyboard), then a partial fill and the rest.
    const accept = page.getByRole('button', { name: 'Accept prescription' });
    await accept.focus();
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: 'Accepted; the prescriber is told.' })
      .waitFor();
    await settled(page);
    await page.getByRole('button', { name: 'Record fill' }).waitFor();
    expect(await page.getByRole('button', { name: 'Accept prescription' }).count()).toBe(0);

    const total = Number(rx.quantity);
    expect(total).toBeGreaterThan(1);
    const first = String(Math.floor(total / 2));
    const rest = String(total - Number(first));
    await page.getByLabel('Quantity dispensed').fill(first);
    await page.getByRole('button', { name: 'Record fill' }).click();
    await page.getByRole('status').filter({ hasText: 'Partial fill recorded' }).waitFor();
    await settled(page);
    expect(await page.locator('.rx-state').innerText()).toContain('Partially dispensed');
    await page.getByLabel('Quantity dispensed').fill(rest);
    await page.getByRole('button', { name: 'Record fill' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Dispensed; the prescriber is told.' })
      .waitFor();
    await settled(page);
    expect(await page.locator('.rx-state').innerText()).toContain('Dispensed');
    expect(await page.getByRole('button', { name: 'Record fill' }).count()).toBe(0);
    const history = page.getByRole('region', { name: 'History' });
    expect(await history.getByRole('row').count()).toBe(4); // header + accept + two fills
    await checkScreen(w, 'pharmacy-dispensed');

    // A renewal request once dispensed.
    await page.getByLabel('Note', { exact: false }).first().fill('Patient asks for more');
    await page.getByRole('button', { name: 'Send renewal request' }).click();
    await page.getByRole('status').filter({ hasText: 'Renewal request sent' }).waitFor();
    await settled(page);

    expect(await page.evaluate<number[]>(PHI_STORAGE)).toEqual([0, 0]);
    await w.close();
    expect(w.violations).toEqual([]);
  }, 300_000);

  it('the technician sees the inbox and the prescription but no action', async () => {
    const w = await run.page(true);
    const { page } = w;
    await signInWithPassword(page, run.origin, run.user('pharmacy_technician', 'pharmacy'));
    await openInbox(page);
    await checkScreen(w, 'pharmacy-technician-inbox');
    await openPrescription(page, rx.drug);
    await page.getByRole('region', { name: 'Signature verified' }).waitFor();
    expect(await page.getByRole('region', { name: 'Actions' }).count()).toBe(0);
    const main = page.locator('main');
    for (const name of [
      'Accept prescription',
      'Record fill',
      'Approve cancellation',
      'Deny cancellation',
      'Send renewal request',
      'Send change request',
    ]) {
      expect(await main.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await page.getByText('Only a pharmacist accepts and dispenses').count()).toBe(1);
    await checkScreen(w, 'pharmacy-technician-prescription');
    await w.close();
    expect(w.violations).toEqual([]);
  }, 300_000);

  it("the pharmacy's outgoing messages were queued for the prescriber system", async () => {
    // The server is stopped so the run's database can be read from here (embedded PostgreSQL
    // has one owner at a time).
    await run.serve.stop();
    const rows = await withPlatform(run.env, async (p) =>
      p.db.withTenant(rx.pharmacyTenant, async (tx) => {
        const { rows: out } = await tx.query<{
          message_type: string;
          relates_to: string | null;
          to_qualifier: string;
          to_address: string;
        }>(
          `SELECT message_type, relates_to, to_qualifier, to_address FROM network_outbox
            WHERE tenant_id = $1 ORDER BY created_at, message_type`,
          [rx.pharmacyTenant],
        );
        const { rows: inbox } = await tx.query<{ status: string }>(
          'SELECT status FROM pharmacy_inbox WHERE message_id = $1',
          [rx.messageId],
        );
        return { out, inbox };
      }),
    );
    expect(rows.out.map((r) => r.message_type)).toEqual([
      'Status',
      'RxFill',
      'RxFill',
      'RxRenewalRequest',
    ]);
    for (const r of rows.out) {
      expect(r).toMatchObject({
        to_qualifier: 'D',
        to_address: CLINIC_SENDER,
        relates_to: rx.messageId,
      });
    }
    expect(rows.inbox).toHaveLength(1);
    expect(rows.inbox[0]?.status).toBe('dispensed');
  }, 300_000);
});
