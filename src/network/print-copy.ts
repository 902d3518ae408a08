/**
 * The print path of a failed electronic transmission (21 CFR 1311.170(f)): when the outbox gives
 * up on a NewRx (the prescription is in `error` with {@link PRINT_REQUIRED}), its prescriber may
 * print a copy. The copy is the prescription Scrip signed and tried to send (the sealed outbox
 * payload: every element 21 CFR 1306.05(a) requires), marked as a printed copy of a failed
 * electronic transmission, with the note that it must be manually signed (1311.170(f); a
 * controlled one also under 1306.05(d)). Each copy printed is recorded: a `printed` event on the
 * delivery timeline and an `rx.transmit.printed` audit record, in one transaction. PHI is only in
 * the returned page, never in the audit record, the timeline or a URL.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { appendAudit } from '../audit/index.js';
import { html, Markup } from '../compliance/html.js';
import { RX_TRANSMIT_PRINTED } from '../monitoring/actions.js';
import type { CanonicalPrescription } from '../prescribing/canonical-prescription.js';
import type { PracticeAddress } from '../prescribing/prescription.types.js';
import { recordDeliveryEvent } from './delivery-timeline.js';
import { PRINT_REQUIRED } from './outbox-worker.js';
import { sentPrescription } from './sent-prescription.js';

/** The signed-in prescriber asking, with the request facts the audit record carries. */
export interface PrintActor {
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly sessionId: string;
  readonly requestId?: string | undefined;
  readonly ip?: string | undefined;
}

/** A failed transmission still waiting for its printed copy. */
export interface FailedTransmission {
  readonly prescriptionId: string;
  readonly failedAt: Date;
}

export const PRINT_BANNER = 'ELECTRONIC TRANSMISSION FAILED - printed copy';

interface RxRow {
  status: string;
  error_code: string | null;
  prescriber_id: string;
  patient_id: string;
}

export class PrintCopyService {
  constructor(
    private readonly d: { readonly db: Database; readonly keyring: Keyring; readonly clock: Clock },
  ) {}

  /**
   * The printable copy of the caller's prescription whose transmission failed, recorded as
   * printed. Someone else's (or a missing) prescription is `not_found`; one whose transmission
   * did not fail is `conflict`. The caller has already read it through the prescription service
   * (relationship check, audited read).
   */
  async print(actor: PrintActor, prescriptionId: string): Promise<string> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      // The row lock orders concurrent prints: each gets its own copy number.
      const { rows } = await tx.query<RxRow>(
        `SELECT status, error_code, prescriber_id, patient_id FROM prescriptions
          WHERE id = $1 FOR UPDATE`,
        [prescriptionId],
      );
      const rx = rows[0];
      if (rx === undefined || rx.prescriber_id !== actor.userId) {
        throw new AppError('not_found', 'no such prescription');
      }
      if (rx.status !== 'error' || rx.error_code !== PRINT_REQUIRED) {
        throw new AppError('conflict', 'only a prescription whose transmission failed is printed', {
          detail: 'transmission_not_failed',
        });
      }
      const sent = await sentPrescription(tx, this.d.keyring, actor.tenantId, prescriptionId);
      if (sent === undefined)
        throw new AppError('shredded', 'this prescription can no longer be read');
      const prior = await tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM delivery_events
          WHERE prescription_id = $1 AND event = 'printed'`,
        [prescriptionId],
      );
      const copy = (prior.rows[0]?.n ?? 0) + 1;
      const now = this.d.clock.now();
      await recordDeliveryEvent(tx, this.d.clock, actor.tenantId, prescriptionId, 'printed', {
        code: `copy_${String(copy)}`,
      });
      await appendAudit(
        tx,
        {
          tenantId: actor.tenantId,
          actor: { kind: 'user', userId: actor.userId, sessionId: actor.sessionId },
          action: RX_TRANSMIT_PRINTED,
          outcome: 'success',
          subjects: [
            { type: 'prescription', id: prescriptionId },
            { type: 'patient', id: rx.patient_id },
          ],
          requestId: actor.requestId,
          source: actor.ip === undefined ? {} : { ip: actor.ip },
          details: { copy, reason: PRINT_REQUIRED },
        },
        this.d.clock,
      );
      return printedCopy(sent.prescription, copy, now);
    });
  }

  /** The caller's failed transmissions not yet printed, newest first (ids and times, no PHI). */
  async needingAttention(actor: PrintActor): Promise<FailedTransmission[]> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const { rows } = await tx.query<{ id: string; status_changed_at: Date }>(
        `SELECT p.id, p.status_changed_at FROM prescriptions p
          WHERE p.prescriber_id = $1 AND p.status = 'error' AND p.error_code = $2
            AND NOT EXISTS (SELECT 1 FROM delivery_events e
                             WHERE e.prescription_id = p.id AND e.event = 'printed')
          ORDER BY p.status_changed_at DESC LIMIT 100`,
        [actor.userId, PRINT_REQUIRED],
      );
      return rows.map((r) => ({ prescriptionId: r.id, failedAt: r.status_changed_at }));
    });
  }
}

const address = (a: PracticeAddress) =>
  [a.name, a.line, `${a.city}, ${a.state} ${a.postalCode}`, a.phone]
    .filter((x) => x !== undefined && x !== '')
    .join(', ');

/**
 * The printed copy's only style. Its SHA-256 is the one inline style the print route's
 * Content-Security-Policy allows (src/http/routes/network.routes.ts): no other inline style or
 * any script can run on the page.
 */
export const PRINT_CSS =
  'body{font:12pt serif;margin:2em}h1{border:3px solid #000;padding:.4em;font-size:16pt}' +
  'th{text-align:left;padding-right:1em;vertical-align:top}.sign{margin-top:3em}';

/** The style element, byte for byte what the hash covers (no formatter may re-indent it). */
const PRINT_STYLE = new Markup(`<style>${PRINT_CSS}</style>`);

/** The printable page (every value escaped by the `html` template). */
export function printedCopy(rx: CanonicalPrescription, copy: number, now: Date): string {
  const m = rx.medication;
  const row = (label: string, value: string | number | null) =>
    html`<tr>
      <th scope="row">${label}</th>
      <td>${value ?? '—'}</td>
    </tr>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${PRINT_BANNER}</title>
        ${PRINT_STYLE}
      </head>
      <body>
        <h1>${PRINT_BANNER}</h1>
        <p>
          Electronic transmission of this prescription to pharmacy NCPDP ${rx.pharmacy.ncpdpId}
          failed. This printed copy is not valid until manually signed by the prescriber (21 CFR
          1311.170(f)). Copy ${copy}, printed ${now.toISOString()}.
        </p>
        <table>
          ${row('Prescription id', rx.id)} ${row('Date of issue', rx.issuedAt)}
          ${row('Patient', `${rx.patient.givenName} ${rx.patient.familyName}`)}
          ${row('Date of birth', rx.patient.birthDate)}
          ${row('Patient address', rx.patient.address)} ${row('Prescriber', rx.prescriber.name)}
          ${row('Prescriber address', address(rx.prescriber.address))}
          ${row('NPI', rx.prescriber.npi)} ${row('DEA registration', rx.prescriber.deaNumber)}
          ${row('Drug', `${m.name} ${m.strength} ${m.doseForm} (${m.route}), RxNorm ${m.rxcui}`)}
          ${row('DEA schedule', m.deaSchedule)}
          ${row('Quantity', `${String(rx.quantity.value)} ${rx.quantity.unit}`)}
          ${row('Days supply', rx.daysSupply)} ${row('Directions', rx.sig)}
          ${row('Refills', rx.refills)}
          ${row('Substitution', rx.substitutionAllowed ? 'allowed' : 'dispense as written')}
          ${row('Earliest fill date', rx.earliestFillDate)}
          ${row('Diagnosis', rx.diagnosis === null ? null : `${rx.diagnosis.code} ${rx.diagnosis.display ?? ''}`)}
          ${row('Notes to pharmacist', rx.notesToPharmacist)}
        </table>
        <p class="sign">Prescriber's manual signature: ______________________________</p>
      </body>
    </html> `.value;
}
