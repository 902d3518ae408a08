/**
 * The outbox delivery worker (issue 8 item 3; 21 CFR 1311.170 transmission; 45 CFR 164.312(e)).
 *
 * `runOnce` walks every tenant (`scrip_tenant_ids()`, then one `withTenant` transaction per
 * tenant, so RLS stays on) and claims due rows with `FOR UPDATE SKIP LOCKED`: pending rows whose
 * `next_attempt_at` has come, and claimed rows whose lease (`claimed_until`) expired because their
 * worker crashed. The claim commits before any network I/O; each message is then delivered
 * outside a transaction and its outcome recorded in a new one, which only applies while this
 * worker still holds the lease. A crash between delivery and record re-delivers the same
 * MessageID after the lease expires: the receiver processes a MessageID once.
 *
 * Outcomes: a Status marks the row sent and advances the prescription (queued → transmitted, and
 * → acknowledged for Status 000) through the prescription service, audited, in the transaction
 * that marks the row. A retryable failure schedules the next attempt with exponential back-off and
 * full jitter (delay uniform in [0, min(max, base·2^(attempts-1))]). Past `deadline_at`, or on a
 * permanent failure (unknown pharmacy, SCRIPT Error 900, an unbuildable message), the row fails:
 * the prescription goes to `error` with error code {@link PRINT_REQUIRED} (the prescriber sees it
 * in the prescription read: the DEA 1311.170 path, print a copy marked as such, records that the
 * electronic transmission failed), an `rx.transmit.failed` record is audited and a high-severity
 * `transmission_failure` alert is raised once per prescription.
 */
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, SHREDDED } from '../crypto/row-cipher.js';
import { appendAudit } from '../audit/index.js';
import { upsertAlert } from '../monitoring/alert-store.js';
import { wakeAlertDelivery } from '../monitoring/immediate-alert.js';
import { RX_TRANSMIT_FAILED } from '../monitoring/actions.js';
import { OUTBOX, type OutboxPayload } from '../prescribing/prescription.outbox.js';
import type { PrescriptionService } from '../prescribing/prescription.service.js';
import { PharmacyDirectoryRepository } from './pharmacy-directory.repository.js';
import { NewRxBuildError, newRxMessage, scriptId, type NewRxWire } from './newrx-message.js';
import type { ClientCredentials, OutboxTransport, TransportResult } from './outbox-transport.js';
import type { Party } from './ncpdp-script.types.js';
import { credentialsFor } from './network-identity.js';
import { recordDeliveryEvent } from './delivery-timeline.js';
import { auditPinMismatch, PIN_MISMATCH } from './pin-mismatch.js';
import { endpointRef, gateRecheckAt, type SendGate } from './send-gate.js';
import { NETWORK_SEND_HELD } from '../monitoring/actions.js';

/** The prescription error code of a failed electronic transmission (print path, 1311.170). */
export const PRINT_REQUIRED = 'transmission_failed.print_required';

export interface OutboxWorkerOptions {
  /** Most rows claimed per run, across tenants. */
  readonly batch: number;
  /** How long a claim holds before another worker may take the row over. */
  readonly leaseMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Header/From of the messages (the clinic system). */
  readonly from: Party;
}

export interface OutboxWorkerDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyring: Keyring;
  readonly rx: PrescriptionService;
  readonly transport: OutboxTransport;
  /**
   * The BAA gate before each delivery (45 CFR 164.308(b)(1); issue 9): a refusal keeps the
   * message queued. Required: no worker sends without one.
   */
  readonly gate: SendGate;
}

export interface RunReport {
  readonly claimed: number;
  readonly sent: number;
  readonly retried: number;
  readonly failed: number;
}

interface Job {
  readonly tenantId: TenantId;
  readonly id: string;
  readonly prescriptionId: string;
  readonly messageId: string;
  readonly kind: 'NewRx' | 'CancelRx';
  readonly attempts: number;
  readonly deadline: Date;
  /** What to send, or why the message can never be sent. */
  readonly send:
    | {
        readonly endpoint: string;
        readonly pins: readonly string[];
        readonly wire: NewRxWire;
        /** The tenant's own client certificate (its network identity), when it has one. */
        readonly client?: ClientCredentials;
      }
    | { readonly permanent: string }
    | { readonly held: string; readonly alreadyHeld: boolean };
}

interface ClaimRow {
  id: string;
  prescription_id: string;
  message_id: string;
  kind: 'NewRx' | 'CancelRx';
  payload: Buffer;
  attempts: number;
  deadline_at: Date;
  gate_refused: boolean;
}

export class OutboxWorker {
  readonly workerId: string;
  readonly #directory: PharmacyDirectoryRepository;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly d: OutboxWorkerDeps,
    private readonly o: OutboxWorkerOptions,
  ) {
    this.workerId = `outbox-${d.random.uuid()}`;
    this.#directory = new PharmacyDirectoryRepository(d.clock);
  }

  /** Claims due messages of every tenant, delivers them and records each outcome. */
  async runOnce(): Promise<RunReport> {
    const tenants = await this.d.db.withoutTenant(
      async (tx) => (await tx.query<{ id: TenantId }>('SELECT scrip_tenant_ids() AS id')).rows,
    );
    const jobs: Job[] = [];
    for (const { id } of tenants) {
      const room = this.o.batch - jobs.length;
      if (room <= 0) break;
      jobs.push(...(await this.d.db.withTenant(id, (tx) => this.#claim(tx, id, room))));
    }
    const report = { claimed: jobs.length, sent: 0, retried: 0, failed: 0 };
    for (const job of jobs) report[await this.#process(job)] += 1;
    return report;
  }

  /** Runs {@link runOnce} every `intervalMs` (one run at a time) until {@link stop}. */
  start(intervalMs: number, onError?: (err: unknown) => void): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (this.#running !== undefined) return;
      this.#running = this.runOnce()
        // A failed run leaves its rows claimed; their lease brings them back.
        .catch((err: unknown) => onError?.(err))
        .finally(() => {
          this.#running = undefined;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the loop and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #claim(tx: Tx, tenantId: TenantId, limit: number): Promise<Job[]> {
    const now = this.d.clock.now();
    const { rows } = await tx.query<ClaimRow>(
      `UPDATE outbox SET status = 'claimed', claimed_by = $1, claimed_until = $2, updated_at = $3
        WHERE id IN (SELECT id FROM outbox
                      WHERE kind IN ('NewRx', 'CancelRx')
                        AND ((status = 'pending' AND next_attempt_at <= $3)
                             OR (status = 'claimed' AND claimed_until < $3))
                      ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING id, prescription_id, message_id, kind, payload, attempts, deadline_at, gate_refused`,
      [this.workerId, new Date(now.getTime() + this.o.leaseMs), now, limit],
    );
    const jobs: Job[] = [];
    for (const r of rows) {
      const base = {
        tenantId,
        id: r.id,
        prescriptionId: r.prescription_id,
        messageId: r.message_id,
        kind: r.kind,
        attempts: r.attempts,
        deadline: r.deadline_at,
      };
      jobs.push({ ...base, send: await this.#prepare(tx, tenantId, r) });
    }
    return jobs;
  }

  async #prepare(tx: Tx, tenantId: TenantId, r: ClaimRow): Promise<Job['send']> {
    const plain = await openRow(tx, this.d.keyring, tenantId, OUTBOX, r.id, {
      payload: r.payload,
    });
    if (plain === SHREDDED || plain.payload == null) return { permanent: 'payload_unavailable' };
    const payload = JSON.parse(plain.payload) as OutboxPayload;
    const pharmacy = await this.#directory.byNcpdpId(tx, payload.prescription.pharmacy.ncpdpId);
    if (pharmacy === undefined || !pharmacy.active) return { permanent: 'pharmacy_unknown' };
    // The tenant's own network identity (its From and client certificate) and, when configured,
    // its switch; otherwise the installation-wide From and the pharmacy's directory endpoint.
    const me = await credentialsFor(tx, this.d.keyring, tenantId);
    const switchUrl = me?.switchUrl ?? undefined;
    const endpoint = switchUrl ?? pharmacy.endpointUrl;
    const refusal = await this.d.gate.check(tx, tenantId, endpointRef(endpoint));
    if (refusal !== undefined) return { held: refusal, alreadyHeld: r.gate_refused };
    try {
      const wire = newRxMessage({
        type: r.kind,
        messageId: r.message_id,
        payload,
        pharmacy,
        from: me === undefined ? this.o.from : { qualifier: me.qualifier, id: me.address },
        sentTime: this.d.clock.now(),
      });
      const pins =
        switchUrl !== undefined && me !== undefined
          ? [...me.switchPins]
          : [
              pharmacy.pins.primary,
              ...(pharmacy.pins.backup === undefined ? [] : [pharmacy.pins.backup]),
            ];
      return {
        endpoint,
        pins,
        wire,
        ...(me === undefined ? {} : { client: { key: me.keyPem, cert: me.certPem } }),
      };
    } catch (err) {
      if (err instanceof NewRxBuildError) return { permanent: err.reason };
      throw err;
    }
  }

  async #process(job: Job): Promise<'sent' | 'retried' | 'failed'> {
    // Held by the BAA gate: queued, never failed for it (the message is not lost).
    if ('held' in job.send) return this.#hold(job, job.send.held, job.send.alreadyHeld);
    if (this.d.clock.now() >= job.deadline) return this.#fail(job, 'deadline_passed');
    if ('permanent' in job.send) return this.#fail(job, job.send.permanent);
    let result: TransportResult;
    try {
      result = await this.d.transport.deliver(
        job.send.endpoint,
        job.send.pins,
        job.send.wire,
        job.send.client,
      );
    } catch {
      result = { kind: 'error', code: 'transport', permanent: false };
    }
    if (result.kind === 'status') return this.#sent(job, result.code);
    if (result.permanent) return this.#fail(job, result.code);
    return this.#retry(job, result.code);
  }

  /** Applies `fn` only while this worker still holds the row's lease; false when it lost it. */
  async #whileHeld(
    job: Job,
    set: string,
    params: readonly unknown[],
    fn: (tx: Tx) => Promise<void>,
  ): Promise<boolean> {
    return this.d.db.withTenant(job.tenantId, async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE outbox SET ${set}, updated_at = $3
          WHERE id = $1 AND status = 'claimed' AND claimed_by = $2`,
        [job.id, this.workerId, this.d.clock.now(), ...params],
      );
      if (rowCount !== 1) return false;
      await fn(tx);
      return true;
    });
  }

  async #sent(job: Job, code: '000' | '010'): Promise<'sent'> {
    await this.#whileHeld(
      job,
      `status = 'sent', claimed_by = NULL, claimed_until = NULL, last_error = NULL,
       gate_refused = false`,
      [],
      async (tx) => {
        const wireId = scriptId(job.messageId);
        await recordDeliveryEvent(tx, this.d.clock, job.tenantId, job.prescriptionId, 'sent', {
          code,
          messageId: wireId,
        });
        if (job.kind !== 'NewRx') return; // a CancelRx follows a cancellation: nothing to advance
        if (code === '000') {
          await recordDeliveryEvent(
            tx,
            this.d.clock,
            job.tenantId,
            job.prescriptionId,
            'acknowledged',
            { code, messageId: wireId },
          );
        }
        const info = { messageId: job.messageId, statusCode: code };
        await this.d.rx.advanceIn(
          tx,
          job.tenantId,
          job.prescriptionId,
          'transmitted',
          'network',
          {},
          info,
        );
        if (code === '000') {
          await this.d.rx.advanceIn(
            tx,
            job.tenantId,
            job.prescriptionId,
            'acknowledged',
            'network',
            {},
            info,
          );
        }
      },
    );
    return 'sent';
  }

  /** Exponential back-off with full jitter after `attempts` attempts. */
  #nextAttempt(attempts: number): Date {
    const cap = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempts - 1));
    const delay = Math.floor(cap * (this.d.random.bytes(4).readUInt32BE(0) / 0x1_0000_0000));
    return new Date(this.d.clock.now().getTime() + delay);
  }

  /**
   * The BAA gate refused the destination: the message stays queued (tried again later, never
   * failed for it, so nothing is lost), and the first refusal is audited and put on the
   * prescription's timeline (not every attempt).
   */
  async #hold(job: Job, refusal: string, alreadyHeld: boolean): Promise<'retried'> {
    const attempts = job.attempts + 1;
    await this.#whileHeld(
      job,
      `status = 'pending', claimed_by = NULL, claimed_until = NULL, attempts = $4,
       next_attempt_at = $5, last_error = $6, gate_refused = true`,
      [attempts, gateRecheckAt(this.d.clock.now(), this.#nextAttempt(attempts)), 'gate_refused'],
      async (tx) => {
        if (alreadyHeld) return;
        await recordDeliveryEvent(tx, this.d.clock, job.tenantId, job.prescriptionId, 'held', {
          code: refusal,
          messageId: scriptId(job.messageId),
        });
        await appendAudit(
          tx,
          {
            tenantId: job.tenantId,
            actor: { kind: 'system' },
            action: NETWORK_SEND_HELD,
            outcome: 'denied',
            subjects: [{ type: 'prescription', id: job.prescriptionId }],
            details: { messageId: job.messageId, kind: job.kind, refusal },
          },
          this.d.clock,
        );
      },
    );
    return 'retried';
  }

  async #retry(job: Job, code: string): Promise<'retried'> {
    const attempts = job.attempts + 1;
    const next = this.#nextAttempt(attempts);
    await this.#whileHeld(
      job,
      `status = 'pending', claimed_by = NULL, claimed_until = NULL, attempts = $4,
       next_attempt_at = $5, last_error = $6`,
      [attempts, next, code],
      async (tx) => {
        if (code === PIN_MISMATCH && 'endpoint' in job.send) {
          await auditPinMismatch(tx, this.d.clock, job.tenantId, job.send.endpoint, {
            id: job.messageId,
            kind: job.kind,
          });
        }
      },
    );
    return 'retried';
  }

  async #fail(job: Job, reason: string): Promise<'failed'> {
    await this.#whileHeld(
      job,
      `status = 'failed', claimed_by = NULL, claimed_until = NULL, last_error = $4`,
      [reason],
      async (tx) => {
        const { rows } = await tx.query<{ status: string; patient_id: string }>(
          'SELECT status, patient_id FROM prescriptions WHERE id = $1',
          [job.prescriptionId],
        );
        const rx = rows[0];
        const details = { messageId: job.messageId, kind: job.kind, reason, printRequired: true };
        await recordDeliveryEvent(tx, this.d.clock, job.tenantId, job.prescriptionId, 'failed', {
          code: reason,
          messageId: scriptId(job.messageId),
        });
        if (job.kind === 'NewRx' && (rx?.status === 'queued' || rx?.status === 'transmitted')) {
          await this.d.rx.advanceIn(
            tx,
            job.tenantId,
            job.prescriptionId,
            'error',
            'network',
            { errorCode: PRINT_REQUIRED },
            details,
          );
        }
        const now = this.d.clock.now();
        const record = await appendAudit(
          tx,
          {
            tenantId: job.tenantId,
            actor: { kind: 'system' },
            action: RX_TRANSMIT_FAILED,
            outcome: 'failure',
            subjects: [
              { type: 'prescription', id: job.prescriptionId },
              ...(rx === undefined ? [] : [{ type: 'patient', id: rx.patient_id }]),
            ],
            source: {},
            details: { ...details, alertRaised: true },
          },
          this.d.clock,
        );
        await upsertAlert(
          tx,
          {
            tenantId: job.tenantId,
            rule: 'transmission_failure',
            severity: 'high',
            dedupKey: `transmission_failure:rx:${job.prescriptionId}`,
            subject: job.prescriptionId,
            at: now,
            seq: record.seq,
            details: { action: RX_TRANSMIT_FAILED, reason, messageId: job.messageId },
          },
          this.d.random,
        );
        await wakeAlertDelivery(tx); // the sinks hear of it on commit, not a poll later
      },
    );
    return 'failed';
  }
}

/** Defaults for `scrip serve`: 10 per run, 2 min lease, back-off 5 s doubling up to 15 min. */
export const OUTBOX_DEFAULTS: Omit<OutboxWorkerOptions, 'from'> = {
  batch: 10,
  leaseMs: 120_000,
  baseBackoffMs: 5_000,
  maxBackoffMs: 900_000,
};
