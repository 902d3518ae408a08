/**
 * The worker of the generic network outbox (network_outbox; issue 8 item 3; 21 CFR 1311.170;
 * 45 CFR 164.312(e)): pharmacy-originated messages (Status, RxFill, CancelRxResponse,
 * RxRenewalRequest, RxChangeRequest) and the prescriber's answers (RxRenewalResponse,
 * RxChangeResponse). Same discipline as the NewRx worker (outbox-worker.ts): rows claimed with
 * `FOR UPDATE SKIP LOCKED` under a lease that commits before any network I/O; exponential back-off
 * with full jitter; past the deadline or on a permanent refusal the row fails, audited
 * (`network.delivery.failed`) with a high-severity alert.
 *
 * Each message goes out with the sending tenant's own From address and client certificate (its
 * network identity for the row's From) to that identity's switch; a message To a pharmacy (P) from
 * a tenant without a switch goes to the pharmacy's directory endpoint. The BAA gate is checked
 * before every delivery; a refusal keeps the row queued and is audited once.
 */
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, SHREDDED } from '../crypto/row-cipher.js';
import { appendAudit } from '../audit/index.js';
import { upsertAlert } from '../monitoring/alert-store.js';
import { wakeAlertDelivery } from '../monitoring/immediate-alert.js';
import {
  NETWORK_DELIVERY_FAILED,
  NETWORK_DELIVERY_SENT,
  NETWORK_SEND_HELD,
} from '../monitoring/actions.js';
import { recordDeliveryEvent } from './delivery-timeline.js';
import { auditPinMismatch, PIN_MISMATCH } from './pin-mismatch.js';
import { credentialsFor, networkTenants } from './network-identity.js';
import { NETWORK_OUTBOX, type NetworkPayload } from './network-outbox.table.js';
import type { ClientCredentials, OutboxTransport, TransportResult } from './outbox-transport.js';
import { PharmacyDirectoryRepository } from './pharmacy-directory.repository.js';
import { endpointRef, gateRecheckAt, type SendGate } from './send-gate.js';

export interface NetworkWorkerOptions {
  readonly batch: number;
  readonly leaseMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const NETWORK_WORKER_DEFAULTS: NetworkWorkerOptions = {
  batch: 10,
  leaseMs: 120_000,
  baseBackoffMs: 5_000,
  maxBackoffMs: 900_000,
};

export interface NetworkWorkerDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyring: Keyring;
  readonly transport: OutboxTransport;
  /** The BAA gate before each delivery (required: no worker sends without one). */
  readonly gate: SendGate;
}

interface Job {
  readonly tenantId: TenantId;
  readonly id: string;
  readonly type: string;
  readonly messageId: string;
  readonly prescriptionId: string | null;
  readonly attempts: number;
  readonly deadline: Date;
  readonly send:
    | {
        readonly endpoint: string;
        readonly pins: readonly string[];
        readonly xml: string;
        readonly jws: string;
        readonly client: ClientCredentials;
      }
    | { readonly permanent: string }
    | { readonly held: string; readonly alreadyHeld: boolean };
}

interface ClaimRow {
  id: string;
  message_type: string;
  message_id: string;
  from_qualifier: string;
  from_address: string;
  to_qualifier: string;
  to_address: string;
  prescription_id: string | null;
  payload: Buffer;
  attempts: number;
  deadline_at: Date;
  gate_refused: boolean;
}

export interface NetworkRunReport {
  readonly claimed: number;
  readonly sent: number;
  readonly retried: number;
  readonly failed: number;
}

export class NetworkOutboxWorker {
  readonly workerId: string;
  readonly #directory: PharmacyDirectoryRepository;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly d: NetworkWorkerDeps,
    private readonly o: NetworkWorkerOptions = NETWORK_WORKER_DEFAULTS,
  ) {
    this.workerId = `network-${d.random.uuid()}`;
    this.#directory = new PharmacyDirectoryRepository(d.clock);
  }

  /** Claims due messages of every tenant with a network identity, delivers, records outcomes. */
  async runOnce(): Promise<NetworkRunReport> {
    const jobs: Job[] = [];
    for (const id of await networkTenants(this.d.db)) {
      const room = this.o.batch - jobs.length;
      if (room <= 0) break;
      jobs.push(...(await this.d.db.withTenant(id, (tx) => this.#claim(tx, id, room))));
    }
    const report = { claimed: jobs.length, sent: 0, retried: 0, failed: 0 };
    for (const job of jobs) report[await this.#process(job)] += 1;
    return report;
  }

  start(intervalMs: number, onError?: (err: unknown) => void): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running !== undefined) return;
      this.#running = this.runOnce()
        .catch((err: unknown) => onError?.(err))
        .finally(() => {
          this.#running = undefined;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #claim(tx: Tx, tenantId: TenantId, limit: number): Promise<Job[]> {
    const now = this.d.clock.now();
    const { rows } = await tx.query<ClaimRow>(
      `UPDATE network_outbox SET status = 'claimed', claimed_by = $1, claimed_until = $2,
              updated_at = $3
        WHERE id IN (SELECT id FROM network_outbox
                      WHERE (status = 'pending' AND next_attempt_at <= $3)
                         OR (status = 'claimed' AND claimed_until < $3)
                      ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING id, message_type, message_id, from_qualifier, from_address, to_qualifier,
                  to_address, prescription_id, payload, attempts, deadline_at, gate_refused`,
      [this.workerId, new Date(now.getTime() + this.o.leaseMs), now, limit],
    );
    const jobs: Job[] = [];
    for (const r of rows) {
      jobs.push({
        tenantId,
        id: r.id,
        type: r.message_type,
        messageId: r.message_id,
        prescriptionId: r.prescription_id,
        attempts: r.attempts,
        deadline: r.deadline_at,
        send: await this.#prepare(tx, tenantId, r),
      });
    }
    return jobs;
  }

  async #prepare(tx: Tx, tenantId: TenantId, r: ClaimRow): Promise<Job['send']> {
    const me = await credentialsFor(tx, this.d.keyring, tenantId, {
      qualifier: r.from_qualifier,
      address: r.from_address,
    });
    if (me === undefined) return { permanent: 'identity_missing' };
    let endpoint: string;
    let pins: readonly string[];
    let ref: string;
    if (me.switchUrl !== null) {
      endpoint = me.switchUrl;
      pins = me.switchPins;
      ref = endpointRef(me.switchUrl);
    } else if (r.to_qualifier === 'P') {
      const pharmacy = await this.#directory.byNcpdpId(tx, r.to_address);
      if (pharmacy === undefined || !pharmacy.active) return { permanent: 'pharmacy_unknown' };
      endpoint = pharmacy.endpointUrl;
      pins = [
        pharmacy.pins.primary,
        ...(pharmacy.pins.backup === undefined ? [] : [pharmacy.pins.backup]),
      ];
      ref = endpointRef(pharmacy.endpointUrl);
    } else {
      return { permanent: 'no_route' };
    }
    const refusal = await this.d.gate.check(tx, tenantId, ref);
    if (refusal !== undefined) return { held: refusal, alreadyHeld: r.gate_refused };
    const plain = await openRow(tx, this.d.keyring, tenantId, NETWORK_OUTBOX, r.id, {
      payload: r.payload,
    });
    if (plain === SHREDDED || plain.payload == null) return { permanent: 'payload_unavailable' };
    const payload = JSON.parse(plain.payload) as NetworkPayload;
    return {
      endpoint,
      pins,
      xml: payload.xml,
      jws: payload.jws ?? '',
      client: { key: me.keyPem, cert: me.certPem },
    };
  }

  async #process(job: Job): Promise<'sent' | 'retried' | 'failed'> {
    if ('held' in job.send) return this.#hold(job, job.send.held, job.send.alreadyHeld);
    if (this.d.clock.now() >= job.deadline) return this.#fail(job, 'deadline_passed');
    if ('permanent' in job.send) return this.#fail(job, job.send.permanent);
    let result: TransportResult;
    try {
      result = await this.d.transport.deliver(
        job.send.endpoint,
        job.send.pins,
        { xml: job.send.xml, jws: job.send.jws, messageId: job.messageId },
        job.send.client,
      );
    } catch {
      result = { kind: 'error', code: 'transport', permanent: false };
    }
    if (result.kind === 'status') return this.#sent(job, result.code);
    if (result.permanent) return this.#fail(job, result.code);
    return this.#retry(job, result.code);
  }

  async #whileHeld(
    job: Job,
    set: string,
    params: readonly unknown[],
    fn: (tx: Tx) => Promise<void>,
  ): Promise<boolean> {
    return this.d.db.withTenant(job.tenantId, async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE network_outbox SET ${set}, updated_at = $3
          WHERE id = $1 AND status = 'claimed' AND claimed_by = $2`,
        [job.id, this.workerId, this.d.clock.now(), ...params],
      );
      if (rowCount !== 1) return false;
      await fn(tx);
      return true;
    });
  }

  #nextAttempt(attempts: number): Date {
    const cap = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempts - 1));
    const delay = Math.floor(cap * (this.d.random.bytes(4).readUInt32BE(0) / 0x1_0000_0000));
    return new Date(this.d.clock.now().getTime() + delay);
  }

  async #sent(job: Job, code: '000' | '010'): Promise<'sent'> {
    await this.#whileHeld(
      job,
      `status = 'sent', claimed_by = NULL, claimed_until = NULL, last_error = NULL,
       gate_refused = false`,
      [],
      async (tx) => {
        await appendAudit(
          tx,
          {
            tenantId: job.tenantId,
            actor: { kind: 'system' },
            action: NETWORK_DELIVERY_SENT,
            outcome: 'success',
            subjects: [{ type: 'network_message', id: job.messageId }],
            details: { type: job.type, statusCode: code },
          },
          this.d.clock,
        );
      },
    );
    return 'sent';
  }

  async #retry(job: Job, code: string): Promise<'retried'> {
    const attempts = job.attempts + 1;
    await this.#whileHeld(
      job,
      `status = 'pending', claimed_by = NULL, claimed_until = NULL, attempts = $4,
       next_attempt_at = $5, last_error = $6`,
      [attempts, this.#nextAttempt(attempts), code],
      async (tx) => {
        if (code === PIN_MISMATCH && 'endpoint' in job.send) {
          await auditPinMismatch(tx, this.d.clock, job.tenantId, job.send.endpoint, {
            id: job.messageId,
            kind: job.type,
          });
        }
      },
    );
    return 'retried';
  }

  async #hold(job: Job, refusal: string, alreadyHeld: boolean): Promise<'retried'> {
    const attempts = job.attempts + 1;
    await this.#whileHeld(
      job,
      `status = 'pending', claimed_by = NULL, claimed_until = NULL, attempts = $4,
       next_attempt_at = $5, last_error = $6, gate_refused = true`,
      [attempts, gateRecheckAt(this.d.clock.now(), this.#nextAttempt(attempts)), 'gate_refused'],
      async (tx) => {
        if (alreadyHeld) return;
        if (job.prescriptionId !== null) {
          await recordDeliveryEvent(tx, this.d.clock, job.tenantId, job.prescriptionId, 'held', {
            code: refusal,
            messageId: job.messageId,
          });
        }
        await appendAudit(
          tx,
          {
            tenantId: job.tenantId,
            actor: { kind: 'system' },
            action: NETWORK_SEND_HELD,
            outcome: 'denied',
            subjects: [{ type: 'network_message', id: job.messageId }],
            details: { type: job.type, refusal },
          },
          this.d.clock,
        );
      },
    );
    return 'retried';
  }

  async #fail(job: Job, reason: string): Promise<'failed'> {
    await this.#whileHeld(
      job,
      `status = 'failed', claimed_by = NULL, claimed_until = NULL, last_error = $4`,
      [reason.slice(0, 60)],
      async (tx) => {
        if (job.prescriptionId !== null) {
          await recordDeliveryEvent(tx, this.d.clock, job.tenantId, job.prescriptionId, 'failed', {
            code: reason,
            messageId: job.messageId,
          });
        }
        const record = await appendAudit(
          tx,
          {
            tenantId: job.tenantId,
            actor: { kind: 'system' },
            action: NETWORK_DELIVERY_FAILED,
            outcome: 'failure',
            subjects: [{ type: 'network_message', id: job.messageId }],
            details: { type: job.type, reason, alertRaised: true },
          },
          this.d.clock,
        );
        await upsertAlert(
          tx,
          {
            tenantId: job.tenantId,
            rule: 'transmission_failure',
            severity: 'high',
            dedupKey: `transmission_failure:msg:${job.messageId}`,
            subject: job.messageId,
            at: this.d.clock.now(),
            seq: record.seq,
            details: { action: NETWORK_DELIVERY_FAILED, reason, messageId: job.messageId },
          },
          this.d.random,
        );
        await wakeAlertDelivery(tx); // the sinks hear of it on commit, not a poll later
      },
    );
    return 'failed';
  }
}
