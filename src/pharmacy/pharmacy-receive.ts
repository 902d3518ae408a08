/**
 * Receiving at the pharmacy (issue 8 item 6; 21 CFR 1311.205(b), 1311.210): the handlers the
 * network dispatcher calls, inside the receiving tenant's transaction, for each SCRIPT message
 * addressed to one of the tenant's pharmacies. They return the SCRIPT answer to send back:
 * `Status` 000 (accepted by the final recipient) or `Error` 900 with a short reason token as the
 * Description (permanent rejection; see docs/pharmacy.md for the tokens).
 *
 * - NewRx: the To pharmacy must be one of the tenant's; a JWS (HTTP header x-scrip-rx-jws) must
 *   verify against the sender's registered JWKS and the XML must say what it signs
 *   (newrx-message verification); a controlled substance, or a NewRx whose header claims a digital
 *   signature, is refused without one. Accepted: the XML and JWS as received are archived sealed
 *   with the verification result (1311.210), the prescription enters the inbox. Refused: nothing
 *   is stored and the refusal is audited (reason token, sender, MessageID; no PHI).
 * - CancelRx: linked to the received prescription by PrescriberOrderNumber (or
 *   RelatesToMessageID), which is marked cancel requested; archived like a NewRx.
 *
 * Idempotent by (From, MessageID): a repeat gets the first answer and changes nothing; the unique
 * constraint on the archive makes this hold even across concurrent deliveries. The same
 * prescription (From, PrescriberOrderNumber) under another MessageID is refused
 * (`duplicate_prescription`), so a replayed NewRx never reaches the inbox twice.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { sealRow, type EncryptedTable } from '../crypto/row-cipher.js';
import { buildMessage, parseMessage } from '../network/ncpdp-script.codec.js';
import { SCRIP_SOFTWARE, scriptId } from '../network/newrx-message.js';
import {
  DEA_SCHEDULE_CODES,
  type MessageOf,
  type MessageType,
  type ScriptMessage,
} from '../network/ncpdp-script.types.js';
import {
  PHARMACY_RX_CANCEL_REQUESTED,
  PHARMACY_RX_RECEIVED,
  PHARMACY_RX_REJECTED,
} from '../monitoring/actions.js';
import { auditPharmacy, type SignatureStatus } from './pharmacy.types.js';
import { locationByNcpdp, senderJwks } from './pharmacy-setup.service.js';
import {
  isControlled,
  matchesSignedDocument,
  verifySignedDocument,
  type RejectReason,
} from './newrx-verification.js';

/** The archive of received messages (sealed XML and JWS). */
export const PHARMACY_INBOUND: EncryptedTable = {
  table: 'pharmacy_inbound',
  columns: ['xml', 'jws'],
};

/** Transport facts the dispatcher passes with a message. */
export interface ReceiveMeta {
  /** The request body exactly as received (archived as is, 1311.210). */
  readonly xml: string;
  /** Header/MessageID of the answer; a fresh one when absent. */
  readonly answerMessageId?: string;
  /** The dispatcher's request id, for the audit record. */
  readonly requestId?: string;
}

export type AnswerMessage = MessageOf<'Status'> | MessageOf<'Error'>;

/** What to send back: the answer, its XML, and what happened (for logs and metrics). */
export interface InboundAnswer {
  readonly message: AnswerMessage;
  readonly xml: string;
  readonly outcome: 'accepted' | 'duplicate' | 'rejected';
}

/**
 * A handler the dispatcher registers by message type: called in the tenant's transaction (which
 * the dispatcher commits whatever the answer, so refusals stay audited).
 */
export type InboundHandler = (
  tx: Tx,
  tenantId: TenantId,
  message: ScriptMessage,
  jws: string | undefined,
  meta: ReceiveMeta,
) => Promise<InboundAnswer>;

export interface ReceiverDeps {
  readonly keyring: Keyring;
  readonly clock: Clock;
}

export interface PharmacyReceiver {
  /** Receives a NewRx or CancelRx (any other type is refused with Error 900). */
  readonly receiveAtPharmacy: InboundHandler;
  /** The handlers by message type, for the dispatcher's registry. */
  readonly handlers: Readonly<Partial<Record<MessageType, InboundHandler>>>;
}

function answer(
  clock: Clock,
  received: ScriptMessage,
  meta: ReceiveMeta,
  outcome: 'accepted' | 'rejected',
  reason?: RejectReason | 'unsupported_message',
): InboundAnswer {
  const header = {
    to: received.header.from,
    from: received.header.to,
    messageId: meta.answerMessageId ?? scriptId(randomUUID()),
    relatesToMessageId: received.header.messageId,
    sentTime: clock.now().toISOString(),
    senderSoftware: SCRIP_SOFTWARE,
    ...(received.header.prescriberOrderNumber === undefined
      ? {}
      : { prescriberOrderNumber: received.header.prescriberOrderNumber }),
  };
  const message: AnswerMessage =
    reason === undefined
      ? { type: 'Status', header, body: { code: '000' } }
      : {
          type: 'Error',
          header,
          body: { code: '900', descriptionCode: '002', description: reason },
        };
  return { message, xml: buildMessage(message), outcome };
}

async function stored(tx: Tx, m: ScriptMessage): Promise<InboundAnswer | undefined> {
  const { rows } = await tx.query<{ answer_xml: string }>(
    `SELECT answer_xml FROM pharmacy_inbound
      WHERE tenant_id = scrip_current_tenant() AND sender_id = $1 AND message_id = $2`,
    [m.header.from.id, m.header.messageId],
  );
  const xml = rows[0]?.answer_xml;
  if (xml === undefined) return undefined;
  const parsed = parseMessage(xml);
  if (!parsed.ok || (parsed.message.type !== 'Status' && parsed.message.type !== 'Error')) {
    throw new TypeError('stored pharmacy answer does not parse');
  }
  return { message: parsed.message, xml, outcome: 'duplicate' };
}

/** Builds the receiver over its ports. */
export function pharmacyReceiver(deps: ReceiverDeps): PharmacyReceiver {
  const { keyring, clock } = deps;

  async function reject(
    tx: Tx,
    tenantId: TenantId,
    m: ScriptMessage,
    meta: ReceiveMeta,
    reason: RejectReason | 'unsupported_message',
  ): Promise<InboundAnswer> {
    await auditPharmacy(
      tx,
      clock,
      tenantId,
      'system',
      PHARMACY_RX_REJECTED,
      [],
      meta,
      {
        reason,
        messageType: m.type,
        sender: m.header.from.id,
        messageId: m.header.messageId,
      },
      'failure',
    );
    return answer(clock, m, meta, 'rejected', reason);
  }

  async function archive(
    tx: Tx,
    tenantId: TenantId,
    m: ScriptMessage,
    jws: string | undefined,
    meta: ReceiveMeta,
    inboxId: string,
    sig: { status: SignatureStatus; keyId: string | null; at: Date | null },
    reply: InboundAnswer,
  ): Promise<boolean> {
    const id = randomUUID();
    const { version, sealed } = await sealRow(tx, keyring, tenantId, PHARMACY_INBOUND, id, {
      xml: meta.xml,
      jws: jws ?? null,
    });
    const ins = await tx.query(
      `INSERT INTO pharmacy_inbound (id, tenant_id, inbox_id, sender_id, message_id, message_type,
                                     signature, key_id, verified_at, answer_xml, dek_version, xml,
                                     jws, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (tenant_id, sender_id, message_id) DO NOTHING`,
      [
        id,
        tenantId,
        inboxId,
        m.header.from.id,
        m.header.messageId,
        m.type,
        sig.status,
        sig.keyId,
        sig.at,
        reply.xml,
        version,
        sealed.xml,
        sealed.jws,
        clock.now(),
      ],
    );
    return ins.rowCount === 1;
  }

  async function newRx(
    tx: Tx,
    tenantId: TenantId,
    m: MessageOf<'NewRx'>,
    jws: string | undefined,
    meta: ReceiveMeta,
  ): Promise<InboundAnswer> {
    const location =
      m.header.to.qualifier === 'P' ? await locationByNcpdp(tx, m.header.to.id) : undefined;
    if (location === undefined || m.body.pharmacy.ncpdpId !== location.ncpdpId) {
      return reject(tx, tenantId, m, meta, 'recipient_unknown');
    }
    const controlled = isControlled(m.body);
    // Deny by default: only prescriber systems registered with this tenant (each with its JWKS)
    // may send, and every NewRx from one must carry its valid JWS (Scrip always signs): an
    // unsigned NewRx is refused whatever its XML says, so a controlled prescription cannot pass
    // as unsigned by dropping DEASchedule and the DigitalSignature indicator (1311.205(b)(4)).
    const jwks =
      m.header.from.qualifier === 'D' ? await senderJwks(tx, m.header.from.id) : undefined;
    if (jwks === undefined) return reject(tx, tenantId, m, meta, 'sender_unknown');
    if (jws === undefined || jws.trim() === '') {
      return reject(tx, tenantId, m, meta, 'signature_required');
    }
    const v = verifySignedDocument(jws, jwks);
    if (!v.ok) return reject(tx, tenantId, m, meta, v.reason);
    if (!matchesSignedDocument(m, v.document)) {
      return reject(tx, tenantId, m, meta, 'content_mismatch');
    }
    const sig: { status: SignatureStatus; keyId: string | null; at: Date | null } = {
      status: 'verified',
      keyId: v.keyId,
      at: clock.now(),
    };
    // The same prescription under a new MessageID (a replay, or a resend by another route) is
    // refused: it is in the inbox already and must not be dispensed twice.
    const order = m.header.prescriberOrderNumber;
    if (order !== undefined) {
      const dup = await tx.query(
        `SELECT 1 FROM pharmacy_inbox WHERE tenant_id = scrip_current_tenant() AND sender_id = $1
            AND prescriber_order_number = $2`,
        [m.header.from.id, order],
      );
      if (dup.rowCount !== 0) {
        // This very message, committed meanwhile by a concurrent delivery: answer as it did.
        const first = await stored(tx, m);
        if (first !== undefined) return first;
        return reject(tx, tenantId, m, meta, 'duplicate_prescription');
      }
    }
    // (Two copies under different MessageIDs racing: the unique index on the order number makes
    // the second transaction fail; its retry is refused here.)
    const reply = answer(clock, m, meta, 'accepted');
    const inboxId = randomUUID();
    // The archive row first: a concurrent delivery of the same MessageID that committed first
    // makes it a no-op, and this one answers as the first did.
    if (!(await archive(tx, tenantId, m, jws, meta, inboxId, sig, reply))) {
      const first = await stored(tx, m);
      if (first === undefined) throw new TypeError('duplicate NewRx without a stored answer');
      return first;
    }
    const now = clock.now();
    const code = m.body.medicationPrescribed.deaSchedule;
    const schedule = code === undefined || code === 'C38046' ? null : DEA_SCHEDULE_CODES[code];
    await tx.query(
      `INSERT INTO pharmacy_inbox (id, tenant_id, pharmacy_id, sender_id, message_id,
                                   prescriber_order_number, dea_schedule, status, signature, key_id,
                                   verified_at, received_at, updated_at, status_changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $11, $11, $11)`,
      [
        inboxId,
        tenantId,
        location.id,
        m.header.from.id,
        m.header.messageId,
        m.header.prescriberOrderNumber ?? null,
        schedule,
        sig.status,
        sig.keyId,
        sig.at,
        now,
      ],
    );
    await auditPharmacy(
      tx,
      clock,
      tenantId,
      'system',
      PHARMACY_RX_RECEIVED,
      [{ type: 'pharmacy_rx', id: inboxId }],
      meta,
      {
        sender: m.header.from.id,
        messageId: m.header.messageId,
        signature: sig.status,
        ...(sig.keyId === null ? {} : { keyId: sig.keyId }),
        controlled,
      },
    );
    return reply;
  }

  async function cancelRx(
    tx: Tx,
    tenantId: TenantId,
    m: MessageOf<'CancelRx'>,
    jws: string | undefined,
    meta: ReceiveMeta,
  ): Promise<InboundAnswer> {
    const location =
      m.header.to.qualifier === 'P' ? await locationByNcpdp(tx, m.header.to.id) : undefined;
    if (location === undefined) return reject(tx, tenantId, m, meta, 'recipient_unknown');
    const { rows } = await tx.query<{ id: string; prescriber_order_number: string | null }>(
      `SELECT id, prescriber_order_number FROM pharmacy_inbox
        WHERE tenant_id = scrip_current_tenant() AND pharmacy_id = $1 AND sender_id = $2
          AND (prescriber_order_number = $3 OR message_id = $4)
        ORDER BY received_at LIMIT 1 FOR UPDATE`,
      [
        location.id,
        m.header.from.id,
        m.header.prescriberOrderNumber ?? null,
        m.header.relatesToMessageId ?? null,
      ],
    );
    const target = rows[0];
    if (target === undefined) return reject(tx, tenantId, m, meta, 'prescription_unknown');
    let sig: { status: SignatureStatus; keyId: string | null; at: Date | null } = {
      status: 'unsigned',
      keyId: null,
      at: null,
    };
    if (jws !== undefined && jws.trim() !== '') {
      const jwks = await senderJwks(tx, m.header.from.id);
      if (jwks === undefined) return reject(tx, tenantId, m, meta, 'sender_unknown');
      const v = verifySignedDocument(jws, jwks);
      if (!v.ok) return reject(tx, tenantId, m, meta, v.reason);
      if (target.prescriber_order_number !== scriptId(v.document.id)) {
        return reject(tx, tenantId, m, meta, 'content_mismatch');
      }
      sig = { status: 'verified', keyId: v.keyId, at: clock.now() };
    }
    const reply = answer(clock, m, meta, 'accepted');
    if (!(await archive(tx, tenantId, m, jws, meta, target.id, sig, reply))) {
      const first = await stored(tx, m);
      if (first === undefined) throw new TypeError('duplicate CancelRx without a stored answer');
      return first;
    }
    const now = clock.now();
    await tx.query(
      `UPDATE pharmacy_inbox SET cancel_status = 'requested', updated_at = $2
        WHERE id = $1 AND cancel_status IN ('none', 'denied') AND status <> 'cancelled'`,
      [target.id, now],
    );
    await auditPharmacy(
      tx,
      clock,
      tenantId,
      'system',
      PHARMACY_RX_CANCEL_REQUESTED,
      [{ type: 'pharmacy_rx', id: target.id }],
      meta,
      { sender: m.header.from.id, messageId: m.header.messageId, signature: sig.status },
    );
    return reply;
  }

  const receiveAtPharmacy: InboundHandler = async (tx, tenantId, message, jws, meta) => {
    const first = await stored(tx, message);
    if (first !== undefined) return first;
    if (message.type === 'NewRx') return newRx(tx, tenantId, message, jws, meta);
    if (message.type === 'CancelRx') return cancelRx(tx, tenantId, message, jws, meta);
    return reject(tx, tenantId, message, meta, 'unsupported_message');
  };
  return {
    receiveAtPharmacy,
    handlers: { NewRx: receiveAtPharmacy, CancelRx: receiveAtPharmacy },
  };
}
