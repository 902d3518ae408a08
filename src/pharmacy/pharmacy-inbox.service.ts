/**
 * The pharmacist's inbox (issue 8 item 6; issue 5 point 2): reading received prescriptions and
 * acting on them. One choke point, {@link PharmacyInboxService.#visible}, decides what a user may
 * see: the permission (`pharmacy.receive` to read, `pharmacy.dispense` to act) AND membership of
 * the pharmacy the prescription was routed to. Having the role is not enough; anything else
 * answers `not_found`, exactly like a missing or another tenant's prescription (no existence
 * oracle). Every read is audited like a patient access (action prefix `patient.`), every action
 * in the transaction of its state change, together with the outgoing SCRIPT message handed to
 * the {@link NetworkOutbox}: an error changes nothing and sends nothing.
 * The actions themselves (state checks, messages, next states) are pure steps in
 * pharmacy-actions.ts.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED } from '../crypto/row-cipher.js';
import { parseMessage } from '../network/ncpdp-script.codec.js';
import type { NetworkOutbox } from '../network/network-outbox.js';
import type { NewRxBody } from '../network/ncpdp-script.types.js';
import { PHARMACY_RX_LIST, PHARMACY_RX_READ } from '../monitoring/actions.js';
import {
  auditPharmacy,
  type InboxStatus,
  type PharmacyActor,
  type RequestMeta,
} from './pharmacy.types.js';
import { PHARMACY_INBOUND } from './pharmacy-receive.js';
import { outgoing, type Thread } from './pharmacy-messages.js';
import {
  dispensedUnits,
  fromUnits,
  PHARMACY_ACTIONS,
  type ActionKind,
  type ActionRecord,
  type CancelAnswer,
  type ChangeInput,
  type DispenseInput,
  type InboxQuery,
  type InboxRow,
  type ReceivedPrescription,
} from './pharmacy-inbox.model.js';
import {
  acceptStep,
  cancelResponseStep,
  changeStep,
  checkChangeInput,
  checkDispenseInput,
  dispenseStep,
  renewalStep,
  type ActionStep,
} from './pharmacy-actions.js';

export {
  PHARMACY_ACTIONS,
  type ActionRecord,
  type CancelAnswer,
  type ChangeInput,
  type DispenseInput,
  type InboxQuery,
  type ReceivedPrescription,
} from './pharmacy-inbox.model.js';

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
  ): Promise<InboxRow[]> {
    if (!who.permissions.has(need)) return [];
    const { rows } = await tx.query<InboxRow>(
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
  ): Promise<InboxRow> {
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

  async #full(tx: Tx, who: PharmacyActor, row: InboxRow): Promise<ReceivedPrescription> {
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
    step: (tx: Tx, row: InboxRow, current: ReceivedPrescription) => Promise<ActionStep>,
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
    return this.#act(who, id, meta, (_tx, row) => Promise.resolve(acceptStep(row)));
  }

  /** Records a fill and sends RxFill (Dispensed or PartiallyDispensed). */
  async dispense(
    who: PharmacyActor,
    id: string,
    input: DispenseInput,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    checkDispenseInput(input);
    return this.#act(who, id, meta, (_tx, row, current) =>
      Promise.resolve(dispenseStep(row, current, input)),
    );
  }

  /** Answers the prescriber's CancelRx with CancelRxResponse Approved or Denied. */
  async answerCancel(
    who: PharmacyActor,
    id: string,
    input: CancelAnswer,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    return this.#act(who, id, meta, async (tx, row) => {
      const cancel = await this.#inbound(tx, who.tenantId, row.id, 'CancelRx');
      return cancelResponseStep(row, input, cancel?.messageId);
    });
  }

  /** Asks the prescriber to renew a dispensed prescription (RxRenewalRequest). */
  async requestRenewal(
    who: PharmacyActor,
    id: string,
    input: { readonly note?: string },
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    return this.#act(who, id, meta, (_tx, row, current) =>
      Promise.resolve(renewalStep(row, current, input)),
    );
  }

  /** Asks the prescriber for a change (RxChangeRequest with its MessageRequestCode). */
  async requestChange(
    who: PharmacyActor,
    id: string,
    input: ChangeInput,
    meta: RequestMeta,
  ): Promise<ReceivedPrescription> {
    checkChangeInput(input);
    return this.#act(who, id, meta, (_tx, row, current) =>
      Promise.resolve(changeStep(row, current, input)),
    );
  }
}
