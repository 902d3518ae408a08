/**
 * The clinic side of the network node: what a prescriber system does with the messages a pharmacy
 * sends back To D (NCPDP SCRIPT 2017071; issue 8 items 6 and 8). Each handler runs in the
 * dispatcher's transaction, so the prescription's status, its delivery timeline, the audit record
 * and the stored answer commit together.
 *
 * - Status 000 → acknowledged (from queued/transmitted) or accepted (already acknowledged).
 * - RxFill Dispensed / PartiallyDispensed → dispensed (a partial fill is recorded as such);
 *   NotDispensed / Transferred → a timeline event only.
 * - CancelRxResponse → cancel confirmed or denied (with the reason code).
 * - Error → the prescription goes to error with the pharmacy's code (when the lifecycle allows).
 * - RxRenewalRequest / RxChangeRequest → the prescriber queue (prescriber-requests.ts); a request
 *   that names no prescription of its sender is refused like any other message.
 *
 * The prescription is found by Header PrescriberOrderNumber (the prescription id as 32 hex
 * digits) or else by RelatesToMessageID (the MessageID of the NewRx/CancelRx Scrip sent). It is
 * only this sender's when Header From is the pharmacy (qualifier P, NCPDP ID) its NewRx was routed
 * to (the sealed outbox payload), and a RelatesToMessageID, when given, must be a message Scrip
 * sent about this prescription. Anything else is answered like an unknown prescription (Error 900,
 * no existence oracle), changes nothing and is audited with the reason.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { appendAudit } from '../audit/index.js';
import { NETWORK_INBOUND_REFUSED } from '../monitoring/actions.js';
import type { PrescriptionService } from '../prescribing/prescription.service.js';
import { transition } from '../prescribing/prescription.state.js';
import type { PrescriptionStatus } from '../prescribing/prescription.types.js';
import { recordDeliveryEvent, type DeliveryEventKind } from './delivery-timeline.js';
import type {
  HandlerMeta,
  InboundAnswer,
  InboundHandler,
  InboundHandlers,
} from './inbound-dispatcher.js';
import type { Header, ScriptMessage } from './ncpdp-script.types.js';
import { storeRequest } from './prescriber-requests.js';
import { sentPrescription } from './sent-prescription.js';

export interface ClinicInboundDeps {
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly rx: Pick<PrescriptionService, 'advanceIn'>;
}

interface RxRef {
  readonly id: string;
  readonly status: PrescriptionStatus;
}

const HEX32 = /^[0-9a-f]{32}$/i;

/** 32 hex digits back to a UUID (scriptId's inverse); undefined for anything else. */
export function uuidOfScriptId(value: string | undefined): string | undefined {
  if (value === undefined || !HEX32.test(value)) return undefined;
  const h = value.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Why a message was not matched to a prescription of its sender (audited, never answered). */
export type RxRefusal = 'unknown_prescription' | 'sender_not_routed' | 'foreign_relates_to';

async function findRx(tx: Tx, header: Header): Promise<RxRef | undefined> {
  const byOrder = uuidOfScriptId(header.prescriberOrderNumber);
  if (byOrder !== undefined) {
    const { rows } = await tx.query<RxRef>(
      'SELECT id, status FROM prescriptions WHERE id = $1 FOR UPDATE',
      [byOrder],
    );
    if (rows[0] !== undefined) return rows[0];
  }
  const byMessage = uuidOfScriptId(header.relatesToMessageId);
  if (byMessage !== undefined) {
    const { rows } = await tx.query<RxRef>(
      `SELECT p.id, p.status FROM outbox o JOIN prescriptions p ON p.id = o.prescription_id
        WHERE o.message_id = $1 FOR UPDATE OF p`,
      [byMessage],
    );
    if (rows[0] !== undefined) return rows[0];
  }
  return undefined;
}

/** Whether `relatesTo` (wire form) is a message Scrip sent about prescription `rxId`. */
async function sentAbout(tx: Tx, rxId: string, relatesTo: string): Promise<boolean> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT 1 AS n FROM outbox WHERE prescription_id = $1 AND message_id::text = $2
     UNION ALL
     SELECT 1 FROM network_outbox WHERE prescription_id = $1 AND message_id = $3
     LIMIT 1`,
    [rxId, uuidOfScriptId(relatesTo) ?? '', relatesTo],
  );
  return rows.length > 0;
}

/**
 * The prescription a message is about (in the tenant's context), when its sender is the pharmacy
 * the prescription was routed to and its RelatesToMessageID (if any) is one of this prescription's
 * messages; otherwise the reason it is refused.
 */
export async function prescriptionOf(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  header: Header,
): Promise<{ readonly rx: RxRef } | { readonly refused: RxRefusal }> {
  const rx = await findRx(tx, header);
  if (rx === undefined) return { refused: 'unknown_prescription' };
  const routed = (await sentPrescription(tx, keyring, tenantId, rx.id))?.prescription.pharmacy
    .ncpdpId;
  if (header.from.qualifier !== 'P' || routed === undefined || header.from.id !== routed) {
    return { refused: 'sender_not_routed' };
  }
  if (header.relatesToMessageId !== undefined) {
    if (!(await sentAbout(tx, rx.id, header.relatesToMessageId))) {
      return { refused: 'foreign_relates_to' };
    }
  }
  return { rx };
}

function allowed(from: PrescriptionStatus, to: PrescriptionStatus, by: 'network' | 'pharmacy') {
  try {
    transition(from, to, by);
    return true;
  } catch {
    return false;
  }
}

const OK: InboundAnswer = { kind: 'status' };
const UNKNOWN_RX: InboundAnswer = {
  kind: 'error',
  code: '900',
  descriptionCode: '002',
  description: 'unknown prescription',
};

/** The handlers for messages To D (the prescriber system). */
export function clinicInboundHandlers(d: ClinicInboundDeps): InboundHandlers['D'] {
  /** Moves the prescription towards `to` (through transmitted when it is still queued). */
  async function advance(
    tx: Tx,
    tenantId: TenantId,
    rx: RxRef,
    to: PrescriptionStatus,
    messageId: string,
    errorCode?: string,
  ): Promise<boolean> {
    let status = rx.status;
    if (status === 'queued' && to !== 'error' && allowed('transmitted', to, 'pharmacy')) {
      await d.rx.advanceIn(tx, tenantId, rx.id, 'transmitted', 'network', {}, { messageId });
      status = 'transmitted';
    }
    if (!allowed(status, to, 'pharmacy')) return false;
    await d.rx.advanceIn(
      tx,
      tenantId,
      rx.id,
      to,
      'pharmacy',
      errorCode === undefined ? {} : { errorCode },
      { messageId },
    );
    return true;
  }

  const event = (
    tx: Tx,
    tenantId: TenantId,
    rxId: string,
    kind: DeliveryEventKind,
    m: ScriptMessage,
    code?: string,
  ) =>
    recordDeliveryEvent(tx, d.clock, tenantId, rxId, kind, {
      messageId: m.header.messageId,
      code,
    });

  /** Error 900 as for an unknown prescription; the reason goes to the audit log only. */
  async function refuse(
    tx: Tx,
    tenantId: TenantId,
    m: ScriptMessage,
    reason: RxRefusal,
    meta: HandlerMeta,
  ): Promise<InboundAnswer> {
    await appendAudit(
      tx,
      {
        tenantId,
        actor: { kind: 'system' },
        action: NETWORK_INBOUND_REFUSED,
        outcome: 'denied',
        subjects: [{ type: 'network_message', id: m.header.messageId }],
        requestId: meta.requestId,
        source: meta.remoteAddress === undefined ? {} : { ip: meta.remoteAddress },
        details: {
          reason,
          type: m.type,
          from: `${m.header.from.qualifier}:${m.header.from.id}`,
          peerPin: meta.peerPin,
        },
      },
      d.clock,
    );
    return UNKNOWN_RX;
  }

  const withRx =
    (fn: (tx: Tx, tenantId: TenantId, m: ScriptMessage, rx: RxRef) => Promise<InboundAnswer>) =>
    async (
      tx: Tx,
      tenantId: TenantId,
      m: ScriptMessage,
      _jws: string | undefined,
      meta: HandlerMeta,
    ): Promise<InboundAnswer> => {
      const found = await prescriptionOf(tx, d.keyring, tenantId, m.header);
      if ('refused' in found) return refuse(tx, tenantId, m, found.refused, meta);
      return fn(tx, tenantId, m, found.rx);
    };

  const status: InboundHandler = withRx(async (tx, tenantId, m, rx) => {
    if (m.type !== 'Status') throw new TypeError('status handler');
    if (m.body.code === '010') {
      if (rx.status === 'queued') {
        await d.rx.advanceIn(tx, tenantId, rx.id, 'transmitted', 'network', {}, {});
      }
      await event(tx, tenantId, rx.id, 'sent', m, '010');
      return OK;
    }
    const moved = await advance(tx, tenantId, rx, 'acknowledged', m.header.messageId);
    await event(tx, tenantId, rx.id, moved ? 'acknowledged' : 'accepted', m, '000');
    return OK;
  });

  const fill: InboundHandler = withRx(async (tx, tenantId, m, rx) => {
    if (m.type !== 'RxFill') throw new TypeError('fill handler');
    const kind = m.body.fillStatus.kind;
    if (kind === 'Dispensed' || kind === 'PartiallyDispensed') {
      if (rx.status !== 'dispensed') {
        const moved = await advance(tx, tenantId, rx, 'dispensed', m.header.messageId);
        if (!moved) {
          throw new AppError('conflict', 'the prescription cannot be dispensed now', {
            detail: rx.status,
          });
        }
      }
      await event(
        tx,
        tenantId,
        rx.id,
        kind === 'Dispensed' ? 'dispensed' : 'partially_dispensed',
        m,
        kind,
      );
      return OK;
    }
    await event(tx, tenantId, rx.id, 'not_dispensed', m, kind);
    return OK;
  });

  const cancelResponse: InboundHandler = withRx(async (tx, tenantId, m, rx) => {
    if (m.type !== 'CancelRxResponse') throw new TypeError('cancel response handler');
    const r = m.body.response;
    if (r.kind === 'Denied') {
      await event(tx, tenantId, rx.id, 'cancel_denied', m, r.reasonCode);
    } else {
      await event(tx, tenantId, rx.id, 'cancel_confirmed', m, r.kind);
    }
    return OK;
  });

  const error: InboundHandler = withRx(async (tx, tenantId, m, rx) => {
    if (m.type !== 'Error') throw new TypeError('error handler');
    const code = `script_${m.body.code}${m.body.descriptionCode === undefined ? '' : `.${m.body.descriptionCode}`}`;
    await advance(tx, tenantId, rx, 'error', m.header.messageId, `pharmacy.${code}`);
    await event(tx, tenantId, rx.id, 'error', m, code);
    return OK;
  });

  // A request must name a prescription routed to its sender: an unlinked one could never be
  // answered (the queue shows requests by their prescription's prescriber), so it is refused too.
  const request: InboundHandler = withRx(async (tx, tenantId, m, rx) => {
    if (m.type !== 'RxRenewalRequest' && m.type !== 'RxChangeRequest') {
      throw new TypeError('request handler');
    }
    await storeRequest(tx, d.keyring, d.clock, tenantId, m, rx.id);
    await event(
      tx,
      tenantId,
      rx.id,
      m.type === 'RxRenewalRequest' ? 'renewal_requested' : 'change_requested',
      m,
    );
    return OK;
  });

  return {
    Status: status,
    Verify: async () => OK,
    RxFill: fill,
    CancelRxResponse: cancelResponse,
    Error: error,
    RxRenewalRequest: request,
    RxChangeRequest: request,
  };
}
