/**
 * The pharmacist's inbox (issue 8 item 6; issue 5 point 2): reading received prescriptions and
 * acting on them. One choke point, {@link PharmacyInboxService.#visible}, decides what a user may
 * see: the permission (`pharmacy.receive` to read, `pharmacy.dispense` to act) AND membership of
 * the pharmacy the prescription was routed to. Having the role is not enough; anything else
 * answers `not_found`, exactly like a missing or another tenant's prescription (no existence
 * oracle). Every read is audited like a patient access (action prefix `patient.`), every action
 * in the transaction of its state change, together with the outgoing SCRIPT message handed to
 * the {@link NetworkOutbox}: an error changes nothing and sends nothing.
 *
 * State machine: received → accepted → partially_dispensed → dispensed (further fills up to the
 * refills authorised); a CancelRx sets cancel requested, answered approved (→ cancelled) or
 * denied. Actions are refused with `conflict` from any other state.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { parseMessage } from '../network/ncpdp-script.codec.js';
import type { NetworkOutbox } from '../network/network-outbox.js';
import type { ChangeRequestCode, Medication, NewRxBody } from '../network/ncpdp-script.types.js';
import {
  PHARMACY_RX_ACCEPTED,
  PHARMACY_RX_CANCEL_ANSWERED,
  PHARMACY_RX_CHANGE_REQUESTED,
  PHARMACY_RX_FILLED,
  PHARMACY_RX_LIST,
  PHARMACY_RX_READ,
  PHARMACY_RX_RENEWAL_REQUESTED,
} from '../monitoring/actions.js';
import {
  auditPharmacy,
  type CancelStatus,
  type InboxStatus,
  type PharmacyActor,
  type RequestMeta,
  type SignatureStatus,
} from './pharmacy.types.js';
import { PHARMACY_INBOUND } from './pharmacy-receive.js';
import { outgoing, type Outgoing, type Thread } from './pharmacy-messages.js';

/** The pharmacist's action log (sealed details: quantities, notes, reasons). */
export const PHARMACY_ACTIONS: EncryptedTable = { table: 'pharmacy_actions', columns: ['detail'] };

export type ActionKind =
  'accept' | 'fill' | 'cancel_response' | 'renewal_request' | 'change_request';

export interface ActionRecord {
  readonly kind: ActionKind;
  readonly messageId: string;
  readonly messageType: string;
  readonly actorId: string;
  readonly at: Date;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** A received prescription as the service returns it (routes shape it per view). */
export interface ReceivedPrescription {
  readonly id: string;
  readonly pharmacy: { readonly id: string; readonly ncpdpId: string; readonly name: string };
  readonly senderId: string;
  readonly messageId: string;
  readonly prescriberOrderNumber: string | null;
  readonly status: InboxStatus;
  readonly cancelStatus: CancelStatus;
  readonly deaSchedule: string | null;
  readonly signature: {
    readonly status: SignatureStatus;
    readonly keyId: string | null;
    readonly verifiedAt: Date | null;
    readonly jws: string | null;
  };
  readonly receivedAt: Date;
  readonly updatedAt: Date;
  /** The NewRx as received (already verified against the signature at receipt). */
  readonly body: NewRxBody | null;
  readonly quantityDispensed: string;
  readonly actions: readonly ActionRecord[];
}

export interface DispenseInput {
  /** Canonical decimal, greater than zero. */
  readonly quantity: string;
  readonly ndc?: string;
  readonly daysSupply?: number;
  readonly note?: string;
}

export type CancelAnswer =
  | { readonly decision: 'approve'; readonly note?: string }
  | { readonly decision: 'deny'; readonly reasonCode: string; readonly reason?: string };

export interface RequestedMedication {
  readonly drugDescription: string;
  readonly rxnorm?: string;
  readonly ndc?: string;
  readonly quantity?: string;
  readonly daysSupply?: number;
  readonly sig?: string;
  readonly note?: string;
}

export interface ChangeInput {
  readonly code: ChangeRequestCode;
  readonly requested: readonly RequestedMedication[];
}

export interface InboxQuery {
  readonly status?: InboxStatus;
  readonly limit: number;
  readonly offset: number;
}

interface Row {
  id: string;
  pharmacy_id: string;
  ncpdp_id: string;
  pharmacy_name: string;
  sender_id: string;
  message_id: string;
  prescriber_order_number: string | null;
  dea_schedule: string | null;
  status: InboxStatus;
  cancel_status: CancelStatus;
  signature: SignatureStatus;
  key_id: string | null;
  verified_at: Date | null;
  received_at: Date;
  updated_at: Date;
}

const DECIMAL_RE = /^(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?$/;

/** Decimal strings to integer units of 1e-5 (exact for the canonical decimals SCRIPT allows). */
function units(v: string): bigint {
  const [int = '0', frac = ''] = v.split('.');
  return BigInt(int) * 100_000n + BigInt(frac.padEnd(5, '0'));
}
function fromUnits(u: bigint): string {
  const int = u / 100_000n;
  const frac = (u % 100_000n).toString().padStart(5, '0').replace(/0+$/, '');
  return frac === '' ? int.toString() : `${int.toString()}.${frac}`;
}

export interface PharmacyInboxDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly outbox: NetworkOutbox;
}

export class PharmacyInboxService {
  constructor(private readonly d: PharmacyInboxDeps) {}

  /**
   * The choke point: rows of `ids` (or all, for a list) that `who` may see for `need` — the
   * permission held and the user a member of the prescription's pharmacy.
   */
  async #visible(
    tx: Tx,
    who: PharmacyActor,
    need: 'pharmacy.receive' | 'pharmacy.dispense',
    filter: {
      readonly id?: string;
      readonly status?: InboxStatus;
      limit?: number;
      offset?: number;
    },
    lock = false,
  ): Promise<Row[]> {
    if (!who.permissions.has(need)) return [];
    const { rows } = await tx.query<Row>(
      `SELECT i.id, i.pharmacy_id, l.ncpdp_id, l.name AS pharmacy_name, i.sender_id, i.message_id,
              i.prescriber_order_number, i.dea_schedule, i.status, i.cancel_status, i.signature,
              i.key_id, i.verified_at, i.received_at, i.updated_at
         FROM pharmacy_inbox i
         JOIN pharmacy_locations l ON l.tenant_id = i.tenant_id AND l.id = i.pharmacy_id
         JOIN pharmacy_members m ON m.tenant_id = i.tenant_id AND m.pharmacy_id = i.pharmacy_id
                                AND m.user_id = $2
        WHERE i.tenant_id = $1 AND ($3::uuid IS NULL OR i.id = $3)
          AND ($4::text IS NULL OR i.status = $4)
        ORDER BY i.received_at DESC, i.id
        LIMIT $5 OFFSET $6 ${lock ? 'FOR UPDATE OF i' : ''}`,
      [
        who.tenantId,
        who.userId,
        filter.id ?? null,
        filter.status ?? null,
        filter.limit ?? 1,
        filter.offset ?? 0,
      ],
    );
    return rows;
  }

  async #one(
    tx: Tx,
    who: PharmacyActor,
    need: 'pharmacy.receive' | 'pharmacy.dispense',
    id: string,
    lock = false,
  ): Promise<Row> {
    const row = (await this.#visible(tx, who, need, { id }, lock))[0];
    if (row === undefined) throw new AppError('not_found', 'no such prescription');
    return row;
  }

  async #inbound(
    tx: Tx,
    tenantId: TenantId,
    inboxId: string,
    type: 'NewRx' | 'CancelRx',
  ): Promise<{ messageId: string; body: NewRxBody | null; jws: string | null } | undefined> {
    const { rows } = await tx.query<{
      id: string;
      message_id: string;
      xml: Buffer;
      jws: Buffer | null;
    }>(
      `SELECT id, message_id, xml, jws FROM pharmacy_inbound
        WHERE tenant_id = $1 AND inbox_id = $2 AND message_type = $3
        ORDER BY received_at DESC, id LIMIT 1`,
      [tenantId, inboxId, type],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    const plain = await openRow(tx, this.d.keyring, tenantId, PHARMACY_INBOUND, r.id, {
      xml: r.xml,
      jws: r.jws,
    });
    if (plain === SHREDDED || plain.xml == null) {
      return { messageId: r.message_id, body: null, jws: null };
    }
    const parsed = parseMessage(plain.xml);
    const body =
      parsed.ok && (parsed.message.type === 'NewRx' || parsed.message.type === 'CancelRx')
        ? parsed.message.body
        : null;
    return { messageId: r.message_id, body, jws: plain.jws ?? null };
  }

  async #actions(tx: Tx, tenantId: TenantId, inboxId: string): Promise<ActionRecord[]> {
    const { rows } = await tx.query<{
      id: string;
      kind: ActionKind;
      message_id: string;
      actor_id: string;
      detail: Buffer;
      created_at: Date;
    }>(
      `SELECT id, kind, message_id, actor_id, detail, created_at FROM pharmacy_actions
        WHERE tenant_id = $1 AND inbox_id = $2 ORDER BY seq`,
      [tenantId, inboxId],
    );
    const out: ActionRecord[] = [];
    for (const r of rows) {
      const plain = await openRow(tx, this.d.keyring, tenantId, PHARMACY_ACTIONS, r.id, {
        detail: r.detail,
      });
      const detail =
        plain === SHREDDED || plain.detail == null
          ? {}
          : (JSON.parse(plain.detail) as Record<string, unknown>);
      const { messageType, ...rest } = detail as { messageType?: string };
      out.push({
        kind: r.kind,
        messageId: r.message_id,
        messageType: messageType ?? '',
        actorId: r.actor_id,
        at: r.created_at,
        detail: rest,
      });
    }
    return out;
  }

  async #full(tx: Tx, who: PharmacyActor, row: Row): Promise<ReceivedPrescription> {
    const newRx = await this.#inbound(tx, who.tenantId, row.id, 'NewRx');
    const actions = await this.#actions(tx, who.tenantId, row.id);
    return {
      id: row.id,
      pharmacy: { id: row.pharmacy_id, ncpdpId: row.ncpdp_id, name: row.pharmacy_name },
      senderId: row.sender_id,
      messageId: row.message_id,
      prescriberOrderNumber: row.prescriber_order_number,
      status: row.status,
      cancelStatus: row.cancel_status,
      deaSchedule: row.dea_schedule,
      signature: {
        status: row.signature,
        keyId: row.key_id,
        verifiedAt: row.verified_at,
        jws: newRx?.jws ?? null,
      },
      receivedAt: row.received_at,
      updatedAt: row.updated_at,
      body: newRx?.body ?? null,
      quantityDispensed: fromUnits(dispensedUnits(actions)),
      actions,
    };
  }

  async #audit(
    tx: Tx,
    who: PharmacyActor,
    action: string,
    ids: readonly string[],
    meta: RequestMeta,
    details: Record<string, string | number | boolean> = {},
  ): Promise<void> {
    await auditPharmacy(
      tx,
      this.d.clock,
      who.tenantId,
      who,
      action,
      ids.map((id) => ({ type: 'pharmacy_rx', id })),
      meta,
      { ...details, basis: 'pharmacy', count: ids.length },
    );
  }

  /** The inbox of the user's pharmacies, newest first (audited as a patient list access). */
  async list(
    who: PharmacyActor,
    q: InboxQuery,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription[]> {
    return this.d.db.withTenant(who.tenantId, async (tx) => {
      const rows = await this.#visible(tx, who, 'pharmacy.receive', {
        ...(q.status === undefined ? {} : { status: q.status }),
        // One audit record names every prescription listed: at most its 50 subjects.
        limit: Math.min(Math.max(q.limit, 1), 50),
        offset: q.offset,
      });
      const out: ReceivedPrescription[] = [];
      for (const r of rows) out.push(await this.#full(tx, who, r));
      if (out.length > 0) {
        await this.#audit(
          tx,
          who,
          PHARMACY_RX_LIST,
          out.map((p) => p.id),
          meta,
        );
      }
      return out;
    });
  }

  /** One received prescription with its signature verification (audited as a patient read). */
  async get(who: PharmacyActor, id: string, meta: RequestMeta): Promise<ReceivedPrescription> {
    return this.d.db.withTenant(who.tenantId, async (tx) => {
      const row = await this.#one(tx, who, 'pharmacy.receive', id);
      const p = await this.#full(tx, who, row);
      await this.#audit(tx, who, PHARMACY_RX_READ, [id], meta);
      return p;
    });
  }

  /**
   * Runs one action: locks the row through the choke point, checks the state, records the
   * action (sealed detail), enqueues its message and audits, all in one transaction.
   */
  async #act(
    who: PharmacyActor,
    id: string,
    meta: RequestMeta,
    step: (
      tx: Tx,
      row: Row,
      current: ReceivedPrescription,
    ) => Promise<{
      kind: ActionKind;
      audit: string;
      message: Outgoing;
      relatesTo?: string;
      next?: { status?: InboxStatus; cancelStatus?: CancelStatus };
      detail: Record<string, unknown>;
      auditDetails?: Record<string, string | number | boolean>;
    }>,
  ): Promise<ReceivedPrescription> {
    return this.d.db.withTenant(who.tenantId, async (tx) => {
      const row = await this.#one(tx, who, 'pharmacy.dispense', id, true);
      const current = await this.#full(tx, who, row);
      if (current.body === null)
        throw new AppError('gone', 'the received prescription is unreadable');
      const s = await step(tx, row, current);
      const now = this.d.clock.now();
      const thread: Thread = {
        senderId: row.sender_id,
        ncpdpId: row.ncpdp_id,
        relatesTo: s.relatesTo ?? row.message_id,
        prescriberOrderNumber: row.prescriber_order_number,
        body: current.body,
      };
      const msg = outgoing(thread, s.message, now);
      const actionId = randomUUID();
      const { version, sealed } = await sealRow(
        tx,
        this.d.keyring,
        who.tenantId,
        PHARMACY_ACTIONS,
        actionId,
        { detail: JSON.stringify({ ...s.detail, messageType: msg.type }) },
      );
      await tx.query(
        `INSERT INTO pharmacy_actions (id, tenant_id, inbox_id, kind, message_id, actor_id,
                                       dek_version, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          actionId,
          who.tenantId,
          id,
          s.kind,
          msg.messageId,
          who.userId,
          version,
          sealed.detail,
          now,
        ],
      );
      if (s.next !== undefined) {
        await tx.query(
          `UPDATE pharmacy_inbox SET status = COALESCE($2, status),
                  cancel_status = COALESCE($3, cancel_status), updated_at = $4,
                  status_changed_at = CASE WHEN $2::text IS NULL OR $2 = status
                                           THEN status_changed_at ELSE $4 END
            WHERE id = $1`,
          [id, s.next.status ?? null, s.next.cancelStatus ?? null, now],
        );
      }
      await this.d.outbox.enqueue(tx, who.tenantId, msg);
      await this.#audit(tx, who, s.audit, [id], meta, {
        ...(s.auditDetails ?? {}),
        messageType: msg.type,
        messageId: msg.messageId,
      });
      const after = await this.#one(tx, who, 'pharmacy.dispense', id);
      return this.#full(tx, who, after);
    });
  }

  /** The pharmacist accepts the prescription: a Status 000 "accepted by pharmacy" to the prescriber. */
  async accept(who: PharmacyActor, id: string, meta: RequestMeta): Promise<ReceivedPrescription> {
    return this.#act(who, id, meta, (_tx, row) => {
      if (row.status !== 'received' || row.cancel_status === 'requested') {
        throw new AppError('conflict', 'only a received prescription can be accepted', {
          detail: row.status,
        });
      }
      return Promise.resolve({
        kind: 'accept' as const,
        audit: PHARMACY_RX_ACCEPTED,
        message: { type: 'Status' as const, description: 'accepted by pharmacy' },
        next: { status: 'accepted' as const },
        detail: {},
      });
    });
  }

  /**
   * Records a fill and sends RxFill: Dispensed, or PartiallyDispensed while the total is below
   * the prescribed quantity. The total may not exceed the quantity times (1 + refills).
   */
  async dispense(
    who: PharmacyActor,
    id: string,
    input: DispenseInput,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    if (!DECIMAL_RE.test(input.quantity) || !/[1-9]/.test(input.quantity)) {
      throw new AppError('validation_failed', 'quantity must be a decimal greater than zero', {
        detail: 'quantity',
      });
    }
    return this.#act(who, id, meta, (_tx, row, current) => {
      const fillable = ['accepted', 'partially_dispensed', 'dispensed'];
      if (!fillable.includes(row.status) || row.cancel_status === 'requested') {
        throw new AppError('conflict', 'the prescription cannot be dispensed in its state', {
          detail: row.status,
        });
      }
      const prescribed = (current.body as NewRxBody).medicationPrescribed;
      const perFill = units(prescribed.quantity.value);
      const allowed = perFill * BigInt(1 + prescribed.numberOfRefills);
      const total = units(current.quantityDispensed) + units(input.quantity);
      if (total > allowed) {
        throw new AppError('conflict', 'the quantity exceeds what the prescription authorises', {
          detail: 'quantity',
        });
      }
      const partial = total < perFill;
      const dispensed: Medication = {
        ...prescribed,
        quantity: { ...prescribed.quantity, value: input.quantity },
        ...(input.ndc === undefined ? {} : { ndc: input.ndc }),
        ...(input.daysSupply === undefined ? {} : { daysSupply: input.daysSupply }),
      };
      return Promise.resolve({
        kind: 'fill' as const,
        audit: PHARMACY_RX_FILLED,
        message: {
          type: 'RxFill' as const,
          status: partial ? ('PartiallyDispensed' as const) : ('Dispensed' as const),
          ...(input.note === undefined ? {} : { note: input.note }),
          dispensed,
        },
        next: { status: partial ? ('partially_dispensed' as const) : ('dispensed' as const) },
        detail: {
          quantity: input.quantity,
          ...(input.ndc === undefined ? {} : { ndc: input.ndc }),
          ...(input.daysSupply === undefined ? {} : { daysSupply: input.daysSupply }),
          ...(input.note === undefined ? {} : { note: input.note }),
          fillStatus: partial ? 'PartiallyDispensed' : 'Dispensed',
        },
        auditDetails: { fillStatus: partial ? 'PartiallyDispensed' : 'Dispensed' },
      });
    });
  }

  /** Answers the prescriber's CancelRx with CancelRxResponse Approved or Denied. */
  async answerCancel(
    who: PharmacyActor,
    id: string,
    input: CancelAnswer,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    return this.#act(who, id, meta, async (tx, row) => {
      if (row.cancel_status !== 'requested') {
        throw new AppError('conflict', 'no cancellation is waiting for an answer', {
          detail: row.cancel_status,
        });
      }
      if (input.decision === 'approve' && row.status === 'dispensed') {
        throw new AppError('conflict', 'a dispensed prescription cannot be cancelled; deny it', {
          detail: row.status,
        });
      }
      const cancel = await this.#inbound(tx, who.tenantId, row.id, 'CancelRx');
      const approve = input.decision === 'approve';
      return {
        kind: 'cancel_response' as const,
        audit: PHARMACY_RX_CANCEL_ANSWERED,
        ...(cancel === undefined ? {} : { relatesTo: cancel.messageId }),
        message: {
          type: 'CancelRxResponse' as const,
          response:
            input.decision === 'approve'
              ? {
                  kind: 'Approved' as const,
                  ...(input.note === undefined ? {} : { note: input.note }),
                }
              : {
                  kind: 'Denied' as const,
                  reasonCode: input.reasonCode,
                  ...(input.reason === undefined ? {} : { reason: input.reason }),
                },
        },
        next: approve
          ? { status: 'cancelled' as const, cancelStatus: 'approved' as const }
          : { cancelStatus: 'denied' as const },
        detail: { ...input },
        auditDetails: { decision: input.decision },
      };
    });
  }

  /** Asks the prescriber to renew a dispensed prescription (RxRenewalRequest). */
  async requestRenewal(
    who: PharmacyActor,
    id: string,
    input: { readonly note?: string },
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    return this.#act(who, id, meta, (_tx, row, current) => {
      if (row.status !== 'dispensed' && row.status !== 'partially_dispensed') {
        throw new AppError('conflict', 'only a dispensed prescription can be renewed', {
          detail: row.status,
        });
      }
      const prescribed = (current.body as NewRxBody).medicationPrescribed;
      const dispensed: Medication = {
        ...prescribed,
        quantity: { ...prescribed.quantity, value: current.quantityDispensed },
        ...(input.note === undefined ? {} : { note: input.note }),
      };
      return Promise.resolve({
        kind: 'renewal_request' as const,
        audit: PHARMACY_RX_RENEWAL_REQUESTED,
        message: { type: 'RxRenewalRequest' as const, dispensed },
        detail: { ...(input.note === undefined ? {} : { note: input.note }) },
      });
    });
  }

  /** Asks the prescriber for a change (RxChangeRequest with its MessageRequestCode). */
  async requestChange(
    who: PharmacyActor,
    id: string,
    input: ChangeInput,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    if ((input.code === 'G' || input.code === 'T') && input.requested.length === 0) {
      throw new AppError('validation_failed', 'a generic or therapeutic change names the drug', {
        detail: 'requested',
      });
    }
    return this.#act(who, id, meta, (_tx, row, current) => {
      if (row.status === 'cancelled' || row.status === 'dispensed') {
        throw new AppError('conflict', 'the prescription cannot be changed in its state', {
          detail: row.status,
        });
      }
      const prescribed = (current.body as NewRxBody).medicationPrescribed;
      const requested: Medication[] = input.requested.map((r) => ({
        drugDescription: r.drugDescription,
        ...(r.ndc === undefined ? {} : { ndc: r.ndc }),
        ...(r.rxnorm === undefined
          ? {}
          : { rxnorm: { code: r.rxnorm, qualifier: 'SCD' as const } }),
        ...(prescribed.deaSchedule === undefined ? {} : { deaSchedule: prescribed.deaSchedule }),
        quantity: { ...prescribed.quantity, value: r.quantity ?? prescribed.quantity.value },
        ...((r.daysSupply ?? prescribed.daysSupply) === undefined
          ? {}
          : { daysSupply: r.daysSupply ?? prescribed.daysSupply }),
        writtenDate: prescribed.writtenDate,
        substitutions: prescribed.substitutions,
        numberOfRefills: prescribed.numberOfRefills,
        ...(r.note === undefined ? {} : { note: r.note }),
        sig: r.sig ?? prescribed.sig,
      }));
      return Promise.resolve({
        kind: 'change_request' as const,
        audit: PHARMACY_RX_CHANGE_REQUESTED,
        message: { type: 'RxChangeRequest' as const, code: input.code, requested },
        detail: { code: input.code, requested: input.requested },
        auditDetails: { code: input.code },
      });
    });
  }
}

function dispensedUnits(actions: readonly ActionRecord[]): bigint {
  let total = 0n;
  for (const a of actions) {
    const q = a.detail.quantity;
    if (a.kind === 'fill' && typeof q === 'string') total += units(q);
  }
  return total;
}
