/**
 * The switch's inbound side (`POST /ncpdp/script`, wire contract in docs/switch.md): one SCRIPT
 * message per request from an authenticated participant, checked step by step, then either
 * refused (SCRIPT Error 900, audited, nothing stored) or stored durably with its audit record in
 * one transaction and answered Status 010 (accepted by an intermediary for forwarding).
 * A (From, MessageID) already stored gets the same Status 010 again and is not stored or
 * forwarded twice.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendAudit, type AuditEvent } from '../audit/index.js';
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { MtlsPeer } from '../network/mtls.js';
import { buildMessage, errorResponse, parseMessage } from '../network/ncpdp-script.codec.js';
import { XML_LIMITS } from '../network/ncpdp-script.xml.js';
import type { Party, ScriptErrorCode, ScriptMessage } from '../network/ncpdp-script.types.js';
import { JWS_HEADER, SCRIP_SOFTWARE, scriptId } from '../network/newrx-message.js';
import {
  SWITCH_CONNECTION_REFUSED,
  SWITCH_MESSAGE_ACCEPTED,
  SWITCH_MESSAGE_DUPLICATE,
  SWITCH_MESSAGE_REFUSED,
} from '../monitoring/actions.js';
import type { Participant, ParticipantRepository } from './participants.js';
import {
  checkPrescriberSignature,
  directionAllowed,
  isControlled,
  ownsFrom,
  REFUSAL_DESCRIPTIONS,
  routable,
  supports,
  type RouteRefusal,
} from './switch-routing.js';
import { findMessage, storeMessage } from './switch-store.js';

/** The path participants POST to (wire contract). */
export const SCRIPT_PATH = '/ncpdp/script';
/** Largest accepted JWS header (a prescription JWS is a few KiB). */
const MAX_JWS_CHARS = 32 * 1024;
const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

export interface IngressDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly random: Random;
  readonly tenantId: TenantId;
  readonly participants: ParticipantRepository;
  /** Header From of the switch's own answers (qualifier M, SCRIP_SWITCH_ID). */
  readonly self: Party;
  readonly deadlineMs: number;
  /** Called after a message is stored (the forwarder runs sooner). */
  readonly onAccepted?: () => void;
  readonly onError?: (err: unknown) => void;
}

interface Answer {
  readonly http: number;
  readonly message: ScriptMessage;
}

export class SwitchIngress {
  constructor(private readonly d: IngressDeps) {}

  /**
   * Audits a connection refused before any message byte was read; `earlier` counts refusals of
   * the same kind from the same address folded into this record since the previous one.
   */
  async refusedConnection(
    reason: string,
    remoteAddress: string | undefined,
    earlier = 0,
  ): Promise<void> {
    await this.d.db.withTenant(this.d.tenantId, (tx) =>
      this.#audit(tx, {
        action: SWITCH_CONNECTION_REFUSED,
        outcome: 'denied',
        ip: remoteAddress,
        details: { reason, ...(earlier > 0 ? { foldedSincePrevious: earlier } : {}) },
      }),
    );
  }

  /** The request handler behind the mTLS server (the peer's certificate already checked). */
  handle(req: IncomingMessage, res: ServerResponse, peer: MtlsPeer): void {
    this.#handle(req, res, peer).catch((err: unknown) => {
      this.d.onError?.(err);
      if (!res.headersSent) {
        // Retryable for the sender: nothing was stored (the transaction rolled back).
        this.#send(res, {
          http: 503,
          message: this.#error(undefined, undefined, '602', '000', 'switch error, try again'),
        });
      } else {
        res.destroy();
      }
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, peer: MtlsPeer): Promise<void> {
    const ip = req.socket.remoteAddress;
    const sender = await this.d.db.withTenant(this.d.tenantId, (tx) =>
      this.d.participants.byClientPin(tx, this.d.tenantId, peer.pin),
    );
    if (sender === undefined) {
      // A certificate from the CA whose key no active participant holds: nothing is read.
      req.socket.destroy();
      await this.refusedConnection('unknown_client_pin', ip);
      return;
    }
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== SCRIPT_PATH) {
      req.resume();
      res.writeHead(404, { connection: 'close' }).end();
      return;
    }
    const body = await readLimited(req, XML_LIMITS.bytes);
    const answer =
      body === undefined
        ? await this.#refuseCodec(sender, ip, 'too_large')
        : await this.#receive(sender, ip, body, headerOf(req, JWS_HEADER));
    this.#send(res, answer, body === undefined);
  }

  async #refuseCodec(
    sender: Participant,
    ip: string | undefined,
    code: 'too_large',
  ): Promise<Answer> {
    await this.d.db.withTenant(this.d.tenantId, (tx) =>
      this.#audit(tx, {
        action: SWITCH_MESSAGE_REFUSED,
        outcome: 'denied',
        ip,
        sender,
        details: { reason: code },
      }),
    );
    return {
      http: 413,
      message: this.#codecError({ code, description: 'message exceeds the size limit' }),
    };
  }

  async #receive(
    sender: Participant,
    ip: string | undefined,
    body: Buffer,
    jwsHeader: string | undefined,
  ): Promise<Answer> {
    const parsed = parseMessage(body);
    if (!parsed.ok) {
      const e = parsed.error;
      await this.d.db.withTenant(this.d.tenantId, (tx) =>
        this.#audit(tx, {
          action: SWITCH_MESSAGE_REFUSED,
          outcome: 'denied',
          ip,
          sender,
          details: {
            reason: `codec_${e.code}`,
            ...(e.messageId === undefined ? {} : { messageId: e.messageId }),
          },
        }),
      );
      return { http: 400, message: this.#codecError(e) };
    }
    const m = parsed.message;
    const refuse = async (reason: RouteRefusal | 'jws_malformed'): Promise<Answer> => {
      await this.d.db.withTenant(this.d.tenantId, (tx) =>
        this.#audit(tx, {
          action: SWITCH_MESSAGE_REFUSED,
          outcome: 'denied',
          ip,
          sender,
          details: { reason, ...facts(m) },
        }),
      );
      const d =
        reason === 'jws_malformed'
          ? REFUSAL_DESCRIPTIONS.signature_invalid
          : REFUSAL_DESCRIPTIONS[reason];
      return {
        http: 400,
        message: this.#error(
          m.header.from,
          m.header.messageId,
          '900',
          d.descriptionCode,
          d.description,
        ),
      };
    };
    // 1. The sender's certificate must own Header From (no answering for someone else).
    if (!ownsFrom(sender, m)) return refuse('from_not_owned');
    const from = routable(m.header.from);
    const to = routable(m.header.to);
    if (from === undefined) return refuse('from_not_owned');
    // 2. Seen before: the same answer, nothing stored or forwarded again.
    const seen = await this.d.db.withTenant(this.d.tenantId, (tx) =>
      findMessage(tx, this.d.tenantId, from, m.header.messageId),
    );
    if (seen !== undefined) return this.#duplicate(sender, ip, m, seen.id);
    // 3. Direction, recipient, service level.
    if (!directionAllowed(m)) return refuse('wrong_direction');
    const recipient =
      to === undefined
        ? undefined
        : await this.d.db.withTenant(this.d.tenantId, (tx) =>
            this.d.participants.byAddress(tx, this.d.tenantId, to),
          );
    if (recipient === undefined || to === undefined) return refuse('unknown_recipient');
    if (!supports(recipient, m)) return refuse('not_supported');
    // 4. The prescription JWS travels unchanged; every NewRx must carry one that verifies against
    //    the sender's JWKS (every prescriber system has one; Scrip always signs), so stripping
    //    the DEASchedule and the signature together does not pass a controlled prescription.
    if (jwsHeader !== undefined && (jwsHeader.length > MAX_JWS_CHARS || !JWS_RE.test(jwsHeader))) {
      return refuse('jws_malformed');
    }
    const controlled = isControlled(m);
    if (m.type === 'NewRx') {
      const bad = checkPrescriberSignature(sender, m, jwsHeader);
      if (bad !== undefined) return refuse(bad);
    }
    // 5. Store and audit in one transaction; a concurrent duplicate loses the insert.
    const id = this.d.random.uuid();
    const stored = await this.d.db.withTenant(this.d.tenantId, async (tx) => {
      const inserted = await storeMessage(tx, this.d.keyring, this.d.clock, this.d.tenantId, {
        id,
        senderId: sender.id,
        from,
        messageId: m.header.messageId,
        recipientId: recipient.id,
        to,
        type: m.type,
        controlled,
        xml: body.toString('utf8'),
        jws: jwsHeader,
        deadline: new Date(this.d.clock.now().getTime() + this.d.deadlineMs),
      });
      if (inserted) {
        await this.#audit(tx, {
          action: SWITCH_MESSAGE_ACCEPTED,
          outcome: 'success',
          ip,
          sender,
          details: { ...facts(m), recipient: recipient.id, controlled, storedId: id },
        });
      }
      return inserted;
    });
    if (!stored) {
      const again = await this.d.db.withTenant(this.d.tenantId, (tx) =>
        findMessage(tx, this.d.tenantId, from, m.header.messageId),
      );
      if (again === undefined) throw new Error('switch message neither stored nor found');
      return this.#duplicate(sender, ip, m, again.id);
    }
    this.d.onAccepted?.();
    return { http: 200, message: this.#accepted(m, id) };
  }

  async #duplicate(
    sender: Participant,
    ip: string | undefined,
    m: ScriptMessage,
    storedId: string,
  ): Promise<Answer> {
    await this.d.db.withTenant(this.d.tenantId, (tx) =>
      this.#audit(tx, {
        action: SWITCH_MESSAGE_DUPLICATE,
        outcome: 'success',
        ip,
        sender,
        details: { ...facts(m), storedId },
      }),
    );
    return { http: 200, message: this.#accepted(m, storedId) };
  }

  /** Status 010; its MessageID derives from the stored row, so a repeat gets the same answer. */
  #accepted(m: ScriptMessage, storedId: string): ScriptMessage {
    return {
      type: 'Status',
      header: {
        to: m.header.from,
        from: this.d.self,
        messageId: scriptId(storedId),
        relatesToMessageId: m.header.messageId,
        sentTime: this.d.clock.now().toISOString(),
        senderSoftware: SCRIP_SOFTWARE,
      },
      body: { code: '010', description: 'accepted by the switch for forwarding' },
    };
  }

  #codecError(e: Parameters<typeof errorResponse>[0]): ScriptMessage {
    return errorResponse(e, {
      party: this.d.self,
      messageId: scriptId(this.d.random.uuid()),
      sentTime: this.d.clock.now().toISOString(),
      software: SCRIP_SOFTWARE,
    });
  }

  #error(
    to: Party | undefined,
    relatesTo: string | undefined,
    code: ScriptErrorCode,
    descriptionCode: string,
    description: string,
  ): ScriptMessage {
    return {
      type: 'Error',
      header: {
        to: to ?? { qualifier: 'ZZZ', id: 'UNKNOWN' },
        from: this.d.self,
        messageId: scriptId(this.d.random.uuid()),
        ...(relatesTo === undefined ? {} : { relatesToMessageId: relatesTo }),
        sentTime: this.d.clock.now().toISOString(),
        senderSoftware: SCRIP_SOFTWARE,
      },
      body: { code, descriptionCode, description },
    };
  }

  #send(res: ServerResponse, answer: Answer, close = false): void {
    const xml = buildMessage(answer.message);
    res.writeHead(answer.http, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(xml),
      ...(close ? { connection: 'close' } : {}),
    });
    res.end(xml);
  }

  async #audit(
    tx: Tx,
    e: {
      action: string;
      outcome: AuditEvent['outcome'];
      ip: string | undefined;
      sender?: Participant;
      details: Record<string, string | number | boolean>;
    },
  ): Promise<void> {
    await appendAudit(
      tx,
      {
        tenantId: this.d.tenantId,
        actor: { kind: 'system' },
        action: e.action,
        outcome: e.outcome,
        subjects: e.sender === undefined ? [] : [{ type: 'switch_participant', id: e.sender.id }],
        source: e.ip === undefined ? {} : { ip: e.ip },
        details: e.details,
      },
      this.d.clock,
    );
  }
}

/** MessageID, type and addresses of a message: what the switch's log keeps (no content). */
function facts(m: ScriptMessage): Record<string, string> {
  return {
    messageId: m.header.messageId,
    messageType: m.type,
    from: `${m.header.from.qualifier}:${m.header.from.id}`,
    to: `${m.header.to.qualifier}:${m.header.to.id}`,
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The request body, or undefined as soon as it exceeds `limit` bytes (reading stops). */
async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}
