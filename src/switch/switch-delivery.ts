/**
 * The switch's outbound pieces: one pinned mTLS POST of a SCRIPT message and the reading of its
 * answer, the retry delay, and the Status/Error relayed to an original sender.
 */
import type { Random } from '../core/index.js';
import { deliver, DeliveryError } from '../network/mtls.js';
import type { Party, ScriptMessage } from '../network/ncpdp-script.types.js';
import { JWS_HEADER, SCRIP_SOFTWARE } from '../network/newrx-message.js';
import { answerOf, type TransportResult } from '../network/outbox-transport.js';
import type { SwitchPolicy, SwitchTls } from './switch-config.js';

/**
 * POSTs `xml` to a participant's endpoint with the switch's client certificate, the
 * participant's server pins and (when given) the prescription JWS header, unchanged.
 */
export async function postScript(
  tls: Pick<SwitchTls, 'clientKey' | 'clientCert' | 'peerCa'>,
  endpoint: string,
  pins: string[],
  xml: string,
  jws: string | undefined,
  messageId: string,
  timeoutMs: number,
): Promise<TransportResult> {
  try {
    const res = await deliver(endpoint, xml, {
      clientKey: tls.clientKey,
      clientCert: tls.clientCert,
      ca: tls.peerCa,
      pins,
      contentType: 'application/xml',
      ...(jws === undefined ? {} : { headers: { [JWS_HEADER]: jws } }),
      timeoutMs,
    });
    return answerOf(res.status, res.body, messageId);
  } catch (err) {
    if (err instanceof DeliveryError) return { kind: 'error', code: err.reason, permanent: false };
    if (err instanceof TypeError)
      return { kind: 'error', code: 'endpoint_invalid', permanent: true };
    return { kind: 'error', code: 'network', permanent: false };
  }
}

/** Exponential back-off with full jitter: uniform in [0, min(max, base·2^(attempts-1))] ms. */
export function backoffMs(policy: SwitchPolicy, attempts: number, random: Random): number {
  const cap = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (attempts - 1));
  return Math.floor(cap * (random.bytes(4).readUInt32BE(0) / 0x1_0000_0000));
}

/** A short error token for the log (`[a-z0-9_.-]`, at most 60 characters). */
export function safeCode(code: string): string {
  const c = code
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '_')
    .slice(0, 60);
  return c === '' ? 'error' : c;
}

/** A stored message whose final answer is to be relayed to its sender. */
export interface RelayClaimed {
  id: string;
  sender_id: string;
  from_qualifier: 'P' | 'D';
  from_value: string;
  to_qualifier: 'P' | 'D';
  to_value: string;
  message_id: string;
  answer_code: string;
  relay_message_id: string;
  relay_attempts: number;
  relay_deadline_at: Date;
}

/**
 * The message relayed to the original sender (docs/switch.md "What senders receive"): To the
 * original From, From the original To, RelatesToMessageID the original MessageID; Status with
 * the recipient's code, or Error 900 with DescriptionCode 007 (rejected) or 008 (expired).
 */
export function relayMessage(r: RelayClaimed, now: Date): ScriptMessage {
  const header = {
    to: { qualifier: r.from_qualifier, id: r.from_value } satisfies Party,
    from: { qualifier: r.to_qualifier, id: r.to_value } satisfies Party,
    messageId: r.relay_message_id,
    relatesToMessageId: r.message_id,
    sentTime: now.toISOString(),
    senderSoftware: SCRIP_SOFTWARE,
  };
  if (r.answer_code === '000' || r.answer_code === '010') {
    return {
      type: 'Status',
      header,
      body: { code: r.answer_code, description: 'delivered to the recipient' },
    };
  }
  const expired = r.answer_code === 'expired';
  return {
    type: 'Error',
    header,
    body: {
      code: '900',
      descriptionCode: expired ? '008' : '007',
      description: expired
        ? 'recipient did not answer before the deadline'
        : 'recipient rejected the message',
    },
  };
}
