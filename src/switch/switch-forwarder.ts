/**
 * Store and forward (issue 8 item 5): the switch's worker delivers each stored message to its
 * recipient's endpoint over mutual TLS (the switch's client certificate, the recipient's server
 * pins, the `x-scrip-rx-jws` header passed on unchanged) and relays the recipient's final answer
 * to the original sender.
 *
 * Claims use `FOR UPDATE SKIP LOCKED` with a lease (`claimed_until`), so several switch processes
 * can share one database; the claim commits before any network I/O and an outcome is recorded
 * only while the lease is still held. A crash between delivery and record re-delivers the same
 * MessageID after the lease expires; the recipient processes a MessageID once (wire contract).
 *
 * Delivery outcomes: Status (000, or 010 from a further intermediary) → delivered; SCRIPT Error
 * 900 → rejected; anything else (recipient offline, 600/601/602, TLS failure, unreadable answer)
 * → retried with exponential back-off and full jitter until the deadline, then expired. Each
 * final outcome of a message that is not itself an answer opens a relay: a Status (the
 * recipient's code) or an Error 900 addressed To the original From, RelatesToMessageID the
 * original MessageID, delivered to the sender's endpoint with the same retry discipline.
 */
import { appendAudit } from '../audit/index.js';
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { buildMessage } from '../network/ncpdp-script.codec.js';
import type { MessageType } from '../network/ncpdp-script.types.js';
import { scriptId } from '../network/newrx-message.js';
import type { TransportResult } from '../network/outbox-transport.js';
import {
  SWITCH_ANSWER_RELAYED,
  SWITCH_ANSWER_RELAY_FAILED,
  SWITCH_FORWARD_FAILED,
  SWITCH_MESSAGE_DELIVERED,
  SWITCH_MESSAGE_REJECTED,
} from '../monitoring/actions.js';
import { pinList, type ParticipantRepository } from './participants.js';
import { isAnswer } from './switch-routing.js';
import { openMessage } from './switch-store.js';
import {
  backoffMs,
  postScript,
  relayMessage,
  safeCode,
  type RelayClaimed,
} from './switch-delivery.js';
import type { SwitchPolicy, SwitchTls } from './switch-config.js';

export interface ForwarderDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly random: Random;
  readonly tenantId: TenantId;
  readonly participants: ParticipantRepository;
  readonly tls: Pick<SwitchTls, 'clientKey' | 'clientCert' | 'peerCa'>;
  readonly policy: SwitchPolicy;
  /** Most rows claimed per run (deliveries and relays each). */
  readonly batch?: number;
  readonly leaseMs?: number;
  readonly timeoutMs?: number;
  readonly onError?: (err: unknown) => void;
}

export interface ForwardReport {
  readonly delivered: number;
  readonly rejected: number;
  readonly retried: number;
  readonly relayed: number;
}

interface Claimed {
  id: string;
  sender_id: string;
  recipient_id: string;
  from_qualifier: 'P' | 'D';
  from_value: string;
  to_qualifier: 'P' | 'D';
  to_value: string;
  message_id: string;
  message_type: MessageType;
  body: Buffer;
  jws: Buffer | null;
  attempts: number;
  deadline_at: Date;
}

export class SwitchForwarder {
  readonly workerId: string;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #again = false;

  constructor(private readonly d: ForwarderDeps) {
    this.workerId = `switch-${d.random.uuid()}`;
  }

  get #batch(): number {
    return this.d.batch ?? 20;
  }

  /** Claims due messages and relays, delivers them and records each outcome. */
  async runOnce(): Promise<ForwardReport> {
    const report = { delivered: 0, rejected: 0, retried: 0, relayed: 0 };
    const jobs = await this.d.db.withTenant(this.d.tenantId, (tx) => this.#claim(tx));
    await Promise.all(
      jobs.map(async (job) => {
        report[await this.#forward(job)] += 1;
      }),
    );
    const relays = await this.d.db.withTenant(this.d.tenantId, (tx) => this.#claimRelays(tx));
    await Promise.all(
      relays.map(async (r) => {
        if (await this.#relay(r)) report.relayed += 1;
      }),
    );
    return report;
  }

  /** Runs {@link runOnce} every `intervalMs` (one run at a time) until {@link stop}. */
  start(intervalMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.kick();
    }, intervalMs);
    this.#timer.unref();
  }

  /** Runs soon (after the current run when one is in progress): a message was just accepted. */
  kick(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.runOnce()
      // A failed run leaves its rows claimed; their lease brings them back.
      .catch((err: unknown) => this.d.onError?.(err))
      .finally(() => {
        this.#running = undefined;
        if (this.#again && this.#timer !== undefined) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#again = false;
    await this.#running;
  }

  async #claim(tx: Tx): Promise<Claimed[]> {
    const now = this.d.clock.now();
    const { rows } = await tx.query<Claimed>(
      `UPDATE switch_messages SET status = 'claimed', claimed_by = $2, claimed_until = $3,
              updated_at = $4
        WHERE id IN (SELECT id FROM switch_messages
                      WHERE tenant_id = $1
                        AND ((status = 'pending' AND next_attempt_at <= $4)
                             OR (status = 'claimed' AND claimed_until < $4))
                      ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED)
        RETURNING id, sender_id, recipient_id, from_qualifier, from_value, to_qualifier, to_value,
                  message_id, message_type, body, jws, attempts, deadline_at`,
      [
        this.d.tenantId,
        this.workerId,
        new Date(now.getTime() + (this.d.leaseMs ?? 60_000)),
        now,
        this.#batch,
      ],
    );
    return rows;
  }

  async #forward(job: Claimed): Promise<'delivered' | 'rejected' | 'retried'> {
    const now = this.d.clock.now();
    if (now >= job.deadline_at) return this.#final(job, 'expired', 'deadline_passed');
    const prepared = await this.d.db.withTenant(this.d.tenantId, async (tx) => ({
      recipient: await this.d.participants.byId(tx, this.d.tenantId, job.recipient_id),
      message: await openMessage(tx, this.d.keyring, this.d.tenantId, job.id, job),
    }));
    if (prepared.message === undefined) return this.#final(job, '900', 'payload_unavailable');
    if (prepared.recipient === undefined || !prepared.recipient.active) {
      return this.#final(job, '900', 'recipient_removed');
    }
    const result = await this.#post(
      prepared.recipient.endpointUrl,
      pinList(prepared.recipient.serverPins),
      prepared.message.xml,
      prepared.message.jws,
      job.message_id,
    );
    if (result.kind === 'status') return this.#final(job, result.code, 'delivered');
    if (result.permanent) return this.#final(job, result.code.replace(/^script_/, ''), result.code);
    return this.#retry(job, result.code);
  }

  #post(
    endpoint: string,
    pins: string[],
    xml: string,
    jws: string | undefined,
    messageId: string,
  ): Promise<TransportResult> {
    return postScript(this.d.tls, endpoint, pins, xml, jws, messageId, this.d.timeoutMs ?? 15_000);
  }

  /** Applies `set` only while this worker still holds the lease; false when it lost it. */
  async #whileHeld(
    id: string,
    set: string,
    params: readonly unknown[],
    fn: (tx: Tx) => Promise<void>,
    relay = false,
  ): Promise<boolean> {
    return this.d.db.withTenant(this.d.tenantId, async (tx) => {
      const held = relay
        ? `relay_status = 'claimed' AND relay_claimed_by = $2`
        : `status = 'claimed' AND claimed_by = $2`;
      const { rowCount } = await tx.query(
        `UPDATE switch_messages SET ${set}, updated_at = $3 WHERE id = $1 AND ${held}`,
        [id, this.workerId, this.d.clock.now(), ...params],
      );
      if (rowCount !== 1) return false;
      await fn(tx);
      return true;
    });
  }

  /** The recipient answered for good (or the deadline passed): record it, open the relay. */
  async #final(job: Claimed, answer: string, reason: string): Promise<'delivered' | 'rejected'> {
    const ok = answer === '000' || answer === '010';
    const answerCode = /^[0-9]{3}$/.test(answer) || answer === 'expired' ? answer : '900';
    const relay = !isAnswer(job.message_type);
    const now = this.d.clock.now();
    await this.#whileHeld(
      job.id,
      `status = $4, answer_code = $5, delivered_at = $6, claimed_by = NULL,
       claimed_until = NULL, last_error = $7, relay_status = $8, relay_next_at = $6,
       relay_message_id = $9, relay_deadline_at = $10`,
      [
        ok ? 'delivered' : 'failed',
        answerCode,
        now,
        ok ? null : reason.slice(0, 60),
        relay ? 'pending' : 'none',
        relay ? scriptId(this.d.random.uuid()) : null,
        relay ? new Date(now.getTime() + this.d.policy.deadlineMs) : null,
      ],
      (tx) =>
        this.#audit(tx, ok ? SWITCH_MESSAGE_DELIVERED : SWITCH_MESSAGE_REJECTED, ok, {
          ...jobFacts(job),
          answerCode,
          attempts: job.attempts + 1,
          ...(ok ? {} : { reason: reason.slice(0, 60) }),
        }),
    );
    return ok ? 'delivered' : 'rejected';
  }

  #backoff(attempts: number): Date {
    return new Date(
      this.d.clock.now().getTime() + backoffMs(this.d.policy, attempts, this.d.random),
    );
  }

  async #retry(job: Claimed, code: string): Promise<'retried'> {
    const attempts = job.attempts + 1;
    const next = this.#backoff(attempts);
    await this.#whileHeld(
      job.id,
      `status = 'pending', claimed_by = NULL, claimed_until = NULL, attempts = $4,
       next_attempt_at = $5, last_error = $6`,
      [attempts, next, safeCode(code)],
      (tx) =>
        this.#audit(tx, SWITCH_FORWARD_FAILED, false, {
          ...jobFacts(job),
          attempts,
          reason: safeCode(code),
          nextAttemptAt: next.toISOString(),
        }),
    );
    return 'retried';
  }

  async #claimRelays(tx: Tx): Promise<RelayClaimed[]> {
    const now = this.d.clock.now();
    const { rows } = await tx.query<RelayClaimed>(
      `UPDATE switch_messages SET relay_status = 'claimed', relay_claimed_by = $2,
              relay_claimed_until = $3, updated_at = $4
        WHERE id IN (SELECT id FROM switch_messages
                      WHERE tenant_id = $1
                        AND ((relay_status = 'pending' AND relay_next_at <= $4)
                             OR (relay_status = 'claimed' AND relay_claimed_until < $4))
                      ORDER BY relay_next_at LIMIT $5 FOR UPDATE SKIP LOCKED)
        RETURNING id, sender_id, from_qualifier, from_value, to_qualifier, to_value, message_id,
                  answer_code, relay_message_id, relay_attempts, relay_deadline_at`,
      [
        this.d.tenantId,
        this.workerId,
        new Date(now.getTime() + (this.d.leaseMs ?? 60_000)),
        now,
        this.#batch,
      ],
    );
    return rows;
  }

  async #relay(r: RelayClaimed): Promise<boolean> {
    const now = this.d.clock.now();
    const facts = {
      messageId: r.message_id,
      relayMessageId: r.relay_message_id,
      to: `${r.from_qualifier}:${r.from_value}`,
      answerCode: r.answer_code,
    };
    const sender = await this.d.db.withTenant(this.d.tenantId, (tx) =>
      this.d.participants.byId(tx, this.d.tenantId, r.sender_id),
    );
    let result: TransportResult;
    if (now >= r.relay_deadline_at) {
      result = { kind: 'error', code: 'deadline_passed', permanent: true };
    } else if (sender === undefined || !sender.active) {
      result = { kind: 'error', code: 'sender_removed', permanent: true };
    } else {
      result = await this.#post(
        sender.endpointUrl,
        pinList(sender.serverPins),
        buildMessage(relayMessage(r, this.d.clock.now())),
        undefined,
        r.relay_message_id,
      );
    }
    if (result.kind === 'status') {
      await this.#whileHeld(
        r.id,
        `relay_status = 'sent', relay_claimed_by = NULL, relay_claimed_until = NULL,
         relay_error = NULL`,
        [],
        (tx) => this.#audit(tx, SWITCH_ANSWER_RELAYED, true, facts),
        true,
      );
      return true;
    }
    const code = safeCode(result.code);
    if (result.permanent) {
      await this.#whileHeld(
        r.id,
        `relay_status = 'failed', relay_claimed_by = NULL, relay_claimed_until = NULL,
         relay_error = $4`,
        [code],
        (tx) =>
          this.#audit(tx, SWITCH_ANSWER_RELAY_FAILED, false, {
            ...facts,
            reason: code,
            final: true,
          }),
        true,
      );
      return false;
    }
    const attempts = r.relay_attempts + 1;
    await this.#whileHeld(
      r.id,
      `relay_status = 'pending', relay_claimed_by = NULL, relay_claimed_until = NULL,
       relay_attempts = $4, relay_next_at = $5, relay_error = $6`,
      [attempts, this.#backoff(attempts), code],
      (tx) =>
        this.#audit(tx, SWITCH_ANSWER_RELAY_FAILED, false, {
          ...facts,
          reason: code,
          final: false,
          attempts,
        }),
      true,
    );
    return false;
  }

  async #audit(
    tx: Tx,
    action: string,
    ok: boolean,
    details: Record<string, string | number | boolean>,
  ): Promise<void> {
    await appendAudit(
      tx,
      {
        tenantId: this.d.tenantId,
        actor: { kind: 'system' },
        action,
        outcome: ok ? 'success' : 'failure',
        details,
      },
      this.d.clock,
    );
  }
}

function jobFacts(job: Claimed): Record<string, string> {
  return {
    messageId: job.message_id,
    messageType: job.message_type,
    from: `${job.from_qualifier}:${job.from_value}`,
    to: `${job.to_qualifier}:${job.to_value}`,
    recipient: job.recipient_id,
  };
}
