/**
 * The prescribers' queue of pharmacy requests (NCPDP SCRIPT 2017071 RxRenewalRequest and
 * RxChangeRequest; issue 8 item 6): stored sealed (PHI) when they arrive, listed to the prescriber
 * of the linked prescription (relationship-checked like every prescription read), and answered
 * with RxRenewalResponse / RxChangeResponse through the network outbox in the transaction that
 * records the decision. Approving a renewal also creates the linked renewal draft through the
 * prescriptions' own renew path (the prescriber then reviews and signs it as usual).
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { appendAudit } from '../audit/index.js';
import type { AccessSubject, PatientAccess } from '../access/patient-access.js';
import { NETWORK_REQUEST_DECIDED } from '../monitoring/actions.js';
import { recordDeliveryEvent } from './delivery-timeline.js';
import { buildMessage } from './ncpdp-script.codec.js';
import type { Decision, MessageOf } from './ncpdp-script.types.js';
import { SCRIP_SOFTWARE, scriptId } from './newrx-message.js';
import type { TableNetworkOutbox } from './network-outbox.table.js';

export const PRESCRIBER_REQUESTS: EncryptedTable = {
  table: 'prescriber_requests',
  columns: ['content'],
};

type RequestMessage = MessageOf<'RxRenewalRequest'> | MessageOf<'RxChangeRequest'>;

export interface PrescriberRequest {
  readonly id: string;
  readonly kind: 'renewal' | 'change';
  readonly status: 'pending' | 'approved' | 'denied';
  readonly prescriptionId: string | null;
  readonly patientId: string | null;
  readonly pharmacy: { readonly ncpdpId: string; readonly name: string };
  readonly drugDescription: string;
  readonly changeCode: string | null;
  readonly receivedAt: Date;
  readonly decidedAt: Date | null;
  readonly responseMessageId: string | null;
  readonly resultPrescriptionId: string | null;
}

interface Row {
  id: string;
  kind: 'renewal' | 'change';
  status: 'pending' | 'approved' | 'denied';
  prescription_id: string | null;
  prescriber_id: string | null;
  patient_id: string | null;
  content: Buffer;
  created_at: Date;
  decided_at: Date | null;
  response_message_id: string | null;
  result_prescription_id: string | null;
}

const COLUMNS = `id, kind, status, prescription_id, prescriber_id, patient_id, content, created_at,
  decided_at, response_message_id, result_prescription_id`;

/**
 * Stores an arriving request for a prescription routed to its sender (the dispatcher's
 * transaction, in the tenant's context).
 */
export async function storeRequest(
  tx: Tx,
  keyring: Keyring,
  clock: Clock,
  tenantId: TenantId,
  m: RequestMessage,
  prescriptionId: string,
): Promise<string> {
  const { rows } = await tx.query<{ prescriber_id: string; patient_id: string }>(
    'SELECT prescriber_id, patient_id FROM prescriptions WHERE id = $1',
    [prescriptionId],
  );
  const prescriberId = rows[0]?.prescriber_id ?? null;
  const patientId = rows[0]?.patient_id ?? null;
  const id = randomUUID();
  const { version, sealed } = await sealRow(tx, keyring, tenantId, PRESCRIBER_REQUESTS, id, {
    content: JSON.stringify(m),
  });
  await tx.query(
    `INSERT INTO prescriber_requests (id, tenant_id, kind, prescription_id, prescriber_id,
                                      patient_id, from_qualifier, from_address, message_id,
                                      dek_version, content, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12)`,
    [
      id,
      tenantId,
      m.type === 'RxRenewalRequest' ? 'renewal' : 'change',
      prescriptionId,
      prescriberId,
      patientId,
      m.header.from.qualifier,
      m.header.from.id,
      m.header.messageId,
      version,
      sealed.content,
      clock.now(),
    ],
  );
  return id;
}

/** The caller of a queue operation (a signed-in prescriber). */
export interface RequestActor extends AccessSubject {
  readonly tenantId: TenantId;
}

export interface Decide {
  readonly decision: 'approve' | 'deny';
  /** SCRIPT ReasonCode of a denial (2-3 upper-case letters or digits, e.g. AA, AF). */
  readonly reasonCode?: string | undefined;
  readonly note?: string | undefined;
}

export interface PrescriberRequestDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly access: PatientAccess;
  readonly outbox: TableNetworkOutbox;
  /** The prescriptions' renew path: a linked renewal draft, audited, in the caller's transaction. */
  readonly renew: (tx: Tx, actor: RequestActor, prescriptionId: string) => Promise<{ id: string }>;
}

export class PrescriberRequestService {
  constructor(private readonly d: PrescriberRequestDeps) {}

  /** The caller's pending requests (linked to prescriptions whose patient they relate to). */
  async listPending(actor: RequestActor): Promise<PrescriberRequest[]> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const { rows } = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM prescriber_requests
          WHERE status = 'pending' AND prescriber_id = $1 ORDER BY created_at LIMIT 200`,
        [actor.userId],
      );
      const patients = [
        ...new Set(rows.flatMap((r) => (r.patient_id === null ? [] : [r.patient_id]))),
      ];
      const related = await this.d.access.bases(tx, actor, patients, 'rx.respond');
      const out: PrescriberRequest[] = [];
      for (const r of rows) {
        if (r.patient_id === null || !related.has(r.patient_id)) continue;
        out.push(await this.#present(tx, actor.tenantId, r));
      }
      return out;
    });
  }

  /** Approves or denies one request; the response message goes out through the outbox. */
  async decide(actor: RequestActor, id: string, input: Decide): Promise<PrescriberRequest> {
    if (input.decision === 'deny' && !/^[A-Z0-9]{2,3}$/.test(input.reasonCode ?? '')) {
      throw new AppError('validation_failed', 'a denial needs a SCRIPT reason code', {
        detail: 'reasonCode',
      });
    }
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      // The row lock serialises two answers to one request: the second sees it answered.
      const row = await this.#mine(tx, actor, id, true);
      if (row.status !== 'pending') {
        throw new AppError('conflict', 'this request was already answered', { detail: row.status });
      }
      // An approved renewal's draft is made in this transaction: no draft without the approval.
      const resultId =
        input.decision === 'approve' && row.kind === 'renewal' && row.prescription_id !== null
          ? (await this.d.renew(tx, actor, row.prescription_id)).id
          : null;
      const m = await this.#message(tx, actor.tenantId, row);
      const decision: Decision =
        input.decision === 'approve'
          ? { kind: 'Approved', ...(input.note === undefined ? {} : { note: input.note }) }
          : {
              kind: 'Denied',
              reasonCode: input.reasonCode ?? '',
              ...(input.note === undefined ? {} : { reason: input.note }),
            };
      const response = responseTo(m, decision, this.d.clock.now());
      await this.d.outbox.enqueueAny(tx, actor.tenantId, {
        type: response.type,
        to: { qualifier: 'P', value: m.header.from.id },
        from: { qualifier: 'D', value: m.header.to.id },
        messageId: response.header.messageId,
        relatesToMessageId: m.header.messageId,
        xml: buildMessage(response),
        prescriptionId: row.prescription_id ?? undefined,
      });
      const status = input.decision === 'approve' ? 'approved' : 'denied';
      const now = this.d.clock.now();
      await tx.query(
        `UPDATE prescriber_requests SET status = $2, decided_by = $3, decided_at = $4,
                response_message_id = $5, result_prescription_id = $6 WHERE id = $1`,
        [id, status, actor.userId, now, response.header.messageId, resultId],
      );
      if (row.prescription_id !== null) {
        await recordDeliveryEvent(
          tx,
          this.d.clock,
          actor.tenantId,
          row.prescription_id,
          `${row.kind}_${status}`,
          {
            messageId: response.header.messageId,
            ...(input.reasonCode === undefined ? {} : { code: input.reasonCode }),
          },
        );
      }
      await appendAudit(
        tx,
        {
          tenantId: actor.tenantId,
          actor: { kind: 'user', userId: actor.userId, sessionId: actor.sessionId },
          action: NETWORK_REQUEST_DECIDED,
          outcome: 'success',
          subjects: [
            { type: 'prescriber_request', id },
            ...(row.prescription_id === null
              ? []
              : [{ type: 'prescription', id: row.prescription_id }]),
            ...(row.patient_id === null ? [] : [{ type: 'patient', id: row.patient_id }]),
          ],
          details: {
            kind: row.kind,
            decision: status,
            responseMessageId: response.header.messageId,
            ...(resultId === null ? {} : { renewalPrescription: resultId }),
            ...(input.reasonCode === undefined ? {} : { reasonCode: input.reasonCode }),
          },
        },
        this.d.clock,
      );
      const after = await this.#mine(tx, actor, id);
      return this.#present(tx, actor.tenantId, after);
    });
  }

  /** The caller's request (same answer for missing and not theirs). */
  async #mine(tx: Tx, actor: RequestActor, id: string, lock = false): Promise<Row> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM prescriber_requests WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const row = rows[0];
    if (row === undefined || row.prescriber_id !== actor.userId || row.patient_id === null) {
      throw new AppError('not_found', 'no such request');
    }
    await this.d.access.require(tx, actor, row.patient_id, 'rx.respond');
    return row;
  }

  async #message(tx: Tx, tenantId: TenantId, r: Row): Promise<RequestMessage> {
    const plain = await openRow(tx, this.d.keyring, tenantId, PRESCRIBER_REQUESTS, r.id, {
      content: r.content,
    });
    if (plain === SHREDDED || plain.content == null) {
      throw new AppError('shredded', 'this request can no longer be read');
    }
    return JSON.parse(plain.content) as RequestMessage;
  }

  async #present(tx: Tx, tenantId: TenantId, r: Row): Promise<PrescriberRequest> {
    const m = await this.#message(tx, tenantId, r);
    const med =
      m.type === 'RxRenewalRequest'
        ? (m.body.medicationPrescribed ?? m.body.medicationDispensed)
        : m.body.medicationPrescribed;
    return {
      id: r.id,
      kind: r.kind,
      status: r.status,
      prescriptionId: r.prescription_id,
      patientId: r.patient_id,
      pharmacy: { ncpdpId: m.body.pharmacy.ncpdpId, name: m.body.pharmacy.businessName },
      drugDescription: med.drugDescription,
      changeCode: m.type === 'RxChangeRequest' ? m.body.messageRequestCode : null,
      receivedAt: r.created_at,
      decidedAt: r.decided_at,
      responseMessageId: r.response_message_id,
      resultPrescriptionId: r.result_prescription_id,
    };
  }
}

/** The RxRenewalResponse / RxChangeResponse answering `m` with `decision`. */
export function responseTo(
  m: RequestMessage,
  decision: Decision,
  now: Date,
): MessageOf<'RxRenewalResponse'> | MessageOf<'RxChangeResponse'> {
  const header = {
    to: m.header.from,
    from: m.header.to,
    messageId: scriptId(randomUUID()),
    relatesToMessageId: m.header.messageId,
    sentTime: now.toISOString(),
    senderSoftware: SCRIP_SOFTWARE,
    ...(m.header.prescriberOrderNumber === undefined
      ? {}
      : { prescriberOrderNumber: m.header.prescriberOrderNumber }),
  };
  const parties = {
    patient: m.body.patient,
    pharmacy: m.body.pharmacy,
    prescriber: m.body.prescriber,
  };
  if (m.type === 'RxRenewalRequest') {
    return {
      type: 'RxRenewalResponse',
      header,
      body: {
        ...parties,
        medicationPrescribed: m.body.medicationPrescribed ?? m.body.medicationDispensed,
        response: decision,
      },
    };
  }
  return {
    type: 'RxChangeResponse',
    header,
    body: {
      ...parties,
      medicationPrescribed:
        decision.kind === 'Denied'
          ? m.body.medicationPrescribed
          : (m.body.medicationRequested[0] ?? m.body.medicationPrescribed),
      messageRequestCode: m.body.messageRequestCode,
      response: decision,
    },
  };
}
