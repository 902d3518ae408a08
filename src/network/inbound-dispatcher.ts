/**
 * The inbound side of the network node (wire contract; issue 8): one SCRIPT message in, one SCRIPT
 * answer out. The body is parsed with the hostile-input-safe codec (malformed → Error 900,
 * audited, nothing changed), dispatched by Header To to the tenant owning that address (unknown →
 * Error 900), and handled once per (tenant, From, MessageID): the answer is stored with the change
 * and the audit record in one transaction, and a repeat gets the stored answer and changes nothing.
 *
 * Handlers come from a registry keyed by the To qualifier and the message type, so the pharmacy
 * side (src/pharmacy, To P) and the clinic side (To D) plug in without this module knowing them.
 */
import { randomUUID } from 'node:crypto';
import { isAppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { NETWORK_INBOUND_RECEIVED, NETWORK_INBOUND_REFUSED } from '../monitoring/actions.js';
import { buildMessage, errorResponse, parseMessage } from './ncpdp-script.codec.js';
import type { MessageType, Party, ScriptErrorCode, ScriptMessage } from './ncpdp-script.types.js';
import { SCRIP_SOFTWARE, scriptId } from './newrx-message.js';
import { tenantOfAddress } from './network-identity.js';

/** Who sent the request, as the mTLS layer authenticated it (no message content). */
export interface InboundMeta {
  readonly requestId: string;
  readonly peerPin: string;
  readonly peerSubject: string;
  readonly remoteAddress?: string | undefined;
}

/** What a handler is given besides the message: the transport facts and the body as received. */
export interface HandlerMeta extends InboundMeta {
  /** The request body exactly as received (a pharmacy archives it as is, 21 CFR 1311.210). */
  readonly xml: string;
}

/** A handler's verdict: Status 000, or a SCRIPT Error (900 permanent; 600-602 retryable). */
export type InboundAnswer =
  | { readonly kind: 'status' }
  | {
      readonly kind: 'error';
      readonly code: ScriptErrorCode;
      readonly descriptionCode?: string;
      readonly description?: string;
    };

/** Handles one message in the receiving tenant's transaction; throws to roll it back. */
export type InboundHandler = (
  tx: Tx,
  tenantId: TenantId,
  message: ScriptMessage,
  jws: string | undefined,
  meta: HandlerMeta,
) => Promise<InboundAnswer>;

/** Handlers by the To qualifier (D prescriber system, P pharmacy) and message type. */
export interface InboundHandlers {
  readonly D: Partial<Record<MessageType, InboundHandler>>;
  readonly P: Partial<Record<MessageType, InboundHandler>>;
}

/** The HTTP answer: status (200 Status, 400 Error 900, 503 retryable) and the SCRIPT XML. */
export interface WireAnswer {
  readonly httpStatus: number;
  readonly xml: string;
}

const UNKNOWN_SELF: Party = { qualifier: 'ZZZ', id: 'SCRIP' };

function httpStatusOf(answer: InboundAnswer): number {
  if (answer.kind === 'status') return 200;
  return answer.code === '900' ? 400 : 503;
}

/** The SCRIPT answer to `m` from its recipient. */
export function answerMessage(m: ScriptMessage, answer: InboundAnswer, now: Date): string {
  const header = {
    to: m.header.from,
    from: m.header.to,
    messageId: scriptId(randomUUID()),
    relatesToMessageId: m.header.messageId,
    sentTime: now.toISOString(),
    senderSoftware: SCRIP_SOFTWARE,
  };
  if (answer.kind === 'status') {
    return buildMessage({ type: 'Status', header, body: { code: '000' } });
  }
  return buildMessage({
    type: 'Error',
    header,
    body: {
      code: answer.code,
      ...(answer.descriptionCode === undefined ? {} : { descriptionCode: answer.descriptionCode }),
      ...(answer.description === undefined ? {} : { description: answer.description }),
    },
  });
}

/** The Error 900 for a refused domain change (AppError code → a fixed description). */
function refusalOf(err: unknown): InboundAnswer | undefined {
  if (!isAppError(err)) return undefined;
  switch (err.code) {
    case 'not_found':
      return { kind: 'error', code: '900', descriptionCode: '002', description: 'not found' };
    case 'conflict':
    case 'validation_failed':
    case 'bad_request':
    case 'forbidden':
    case 'integrity_error':
      return { kind: 'error', code: '900', descriptionCode: '002', description: 'refused' };
    case 'config_invalid':
    case 'gone':
    case 'internal':
    case 'payload_too_large':
    case 'rate_limited':
    case 'shredded':
    case 'step_up_required':
    case 'unauthenticated':
    case 'unavailable':
    case 'unsupported_media_type':
      return undefined;
  }
}

export interface InboundDispatcherDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly handlers: InboundHandlers;
}

export class InboundDispatcher {
  constructor(private readonly d: InboundDispatcherDeps) {}

  /** One message in, its answer out. Never throws for bad input; a database failure rejects. */
  async handle(body: Buffer, jws: string | undefined, meta: InboundMeta): Promise<WireAnswer> {
    const now = this.d.clock.now();
    const parsed = parseMessage(body);
    if (!parsed.ok) {
      await this.#refused(meta, parsed.error.code, undefined);
      const xml = buildMessage(
        errorResponse(parsed.error, {
          party: UNKNOWN_SELF,
          messageId: scriptId(randomUUID()),
          sentTime: now.toISOString(),
          software: SCRIP_SOFTWARE,
        }),
      );
      return { httpStatus: 400, xml };
    }
    const m = parsed.message;
    const to = m.header.to;
    const tenantId =
      to.qualifier === 'D' || to.qualifier === 'P'
        ? await tenantOfAddress(this.d.db, to.qualifier, to.id)
        : undefined;
    if (tenantId === undefined) {
      await this.#refused(meta, 'unknown_recipient', m);
      const answer: InboundAnswer = {
        kind: 'error',
        code: '900',
        descriptionCode: '002',
        description: 'unknown recipient',
      };
      return { httpStatus: 400, xml: answerMessage(m, answer, now) };
    }
    const handler = (to.qualifier === 'D' ? this.d.handlers.D : this.d.handlers.P)[m.type];
    return this.d.db.withTenant(tenantId, async (tx) => {
      const from = m.header.from;
      // Serialises two deliveries of one MessageID (the second waits, then finds the answer).
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `scrip-inbound:${tenantId}:${from.qualifier}:${from.id}:${m.header.messageId}`,
      ]);
      const seen = await tx.query<{ answer_status: number; answer_xml: string }>(
        `SELECT answer_status, answer_xml FROM network_inbound
          WHERE from_qualifier = $1 AND from_address = $2 AND message_id = $3`,
        [from.qualifier, from.id, m.header.messageId],
      );
      const prior = seen.rows[0];
      if (prior !== undefined) return { httpStatus: prior.answer_status, xml: prior.answer_xml };

      let answer: InboundAnswer;
      if (handler === undefined) {
        answer = {
          kind: 'error',
          code: '900',
          descriptionCode: '003',
          description: 'message type not supported',
        };
      } else {
        await tx.query('SAVEPOINT scrip_inbound');
        try {
          answer = await handler(tx, tenantId, m, jws, { ...meta, xml: body.toString('utf8') });
          await tx.query('RELEASE SAVEPOINT scrip_inbound');
        } catch (err) {
          const refusal = refusalOf(err);
          // Anything else (a database failure) rolls everything back: the sender retries.
          if (refusal === undefined) throw err;
          await tx.query('ROLLBACK TO SAVEPOINT scrip_inbound');
          answer = refusal;
        }
      }
      if (answer.kind === 'error' && answer.code !== '900') {
        // A retryable answer is not remembered: the repeat is processed again.
        return { httpStatus: httpStatusOf(answer), xml: answerMessage(m, answer, now) };
      }
      const xml = answerMessage(m, answer, now);
      const httpStatus = httpStatusOf(answer);
      await tx.query(
        `INSERT INTO network_inbound (tenant_id, from_qualifier, from_address, message_id,
                                      message_type, answer_status, answer_xml, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [tenantId, from.qualifier, from.id, m.header.messageId, m.type, httpStatus, xml, now],
      );
      await appendAudit(
        tx,
        {
          tenantId,
          actor: { kind: 'system' },
          action: NETWORK_INBOUND_RECEIVED,
          outcome: answer.kind === 'status' ? 'success' : 'failure',
          subjects: [{ type: 'network_message', id: m.header.messageId }],
          requestId: meta.requestId,
          source: meta.remoteAddress === undefined ? {} : { ip: meta.remoteAddress },
          details: {
            type: m.type,
            from: `${from.qualifier}:${from.id}`,
            to: `${to.qualifier}:${to.id}`,
            answer: answer.kind === 'status' ? '000' : answer.code,
            peerPin: meta.peerPin,
          },
        },
        this.d.clock,
      );
      return { httpStatus, xml };
    });
  }

  async #refused(meta: InboundMeta, reason: string, m: ScriptMessage | undefined): Promise<void> {
    await this.d.db.withoutTenant((tx) =>
      appendAudit(
        tx,
        {
          tenantId: null,
          actor: { kind: 'system' },
          action: NETWORK_INBOUND_REFUSED,
          outcome: 'denied',
          requestId: meta.requestId,
          source: meta.remoteAddress === undefined ? {} : { ip: meta.remoteAddress },
          details: {
            reason,
            peerPin: meta.peerPin,
            ...(m === undefined
              ? {}
              : { type: m.type, to: `${m.header.to.qualifier}:${m.header.to.id}` }),
          },
        },
        this.d.clock,
      ),
    );
  }
}
