/**
 * Prescribers' logs of their controlled-substance prescriptions (21 CFR 1311.120(b)(27)): a
 * monthly log generated for the previous month, available from the 1st of the next month
 * (`generateMonthlyLogs`, scheduled by the composition root), and on-demand reports covering up
 * to two years, sortable by patient, drug and date. Entries are PHI: sealed at rest, and every
 * read is audited.
 */
import { randomUUID } from 'node:crypto';
import { AppError, asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { AUDIT_LIMITS, appendAudit } from '../audit/index.js';
import type { PatientRepository } from './patient.repository.js';
import type { PrescriptionRepository } from './prescription.repository.js';
import type { Actor, Prescription, RequestMeta } from './prescription.types.js';

export const PRESCRIBER_LOGS: EncryptedTable = {
  table: 'prescriber_monthly_logs',
  columns: ['entries'],
};

export interface LogEntry {
  readonly prescriptionId: string;
  readonly signedAt: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly drugName: string;
  readonly strength: string;
  readonly doseForm: string;
  readonly quantity: string;
  readonly schedule: string;
  readonly deaNumber: string;
  readonly status: string;
}

export type LogSort = 'date' | 'patient' | 'drug';

/** The longest on-demand report: two years. */
export const MAX_REPORT_DAYS = 731;

const MONTH_RE = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

/** The calendar month before `now` (UTC), `YYYY-MM`. */
export function previousMonth(now: Date): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

function monthBounds(month: string): { from: Date; to: Date } {
  const [y, m] = month.split('-').map(Number);
  if (y === undefined || m === undefined) throw new TypeError('bad month');
  return { from: new Date(Date.UTC(y, m - 1, 1)), to: new Date(Date.UTC(y, m, 1)) };
}

export function sortEntries(entries: readonly LogEntry[], sort: LogSort): LogEntry[] {
  const key = (e: LogEntry): string =>
    sort === 'patient'
      ? e.patientName.toLowerCase()
      : sort === 'drug'
        ? e.drugName.toLowerCase()
        : e.signedAt;
  return [...entries].sort(
    (a, b) =>
      key(a).localeCompare(key(b)) ||
      a.signedAt.localeCompare(b.signedAt) ||
      a.prescriptionId.localeCompare(b.prescriptionId),
  );
}

export class PrescriberLogService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly keyring: Keyring,
    private readonly patients: PatientRepository,
    private readonly repo: PrescriptionRepository,
  ) {}

  /** An on-demand report of the caller's own controlled prescriptions signed in [from, to). */
  async report(
    actor: Actor,
    range: { readonly from: Date; readonly to: Date; readonly sort: LogSort },
    meta: RequestMeta,
  ): Promise<LogEntry[]> {
    const days = (range.to.getTime() - range.from.getTime()) / 86_400_000;
    if (!(days > 0) || days > MAX_REPORT_DAYS) {
      throw new AppError('validation_failed', 'a report covers more than 0 and at most two years', {
        detail: 'range',
      });
    }
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const entries = await this.#entries(tx, actor.tenantId, actor.userId, range.from, range.to);
      await this.#auditRead(tx, actor, entries, meta, { view: 'report', days: Math.round(days) });
      return sortEntries(entries, range.sort);
    });
  }

  /** The stored monthly log of the caller for `month` (YYYY-MM), once generated. */
  async monthly(
    actor: Actor,
    month: string,
    sort: LogSort,
    meta: RequestMeta,
  ): Promise<LogEntry[]> {
    if (!MONTH_RE.test(month))
      throw new AppError('validation_failed', 'month is YYYY-MM', { detail: 'month' });
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const { rows } = await tx.query<{ id: string; entries: Buffer }>(
        'SELECT id, entries FROM prescriber_monthly_logs WHERE prescriber_id = $1 AND month = $2',
        [actor.userId, month],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'no log for that month yet');
      const plain = await openRow(tx, this.keyring, actor.tenantId, PRESCRIBER_LOGS, row.id, {
        entries: row.entries,
      });
      if (plain === SHREDDED) throw new AppError('shredded', 'the log was destroyed');
      const entries = JSON.parse(plain.entries ?? '[]') as LogEntry[];
      await this.#auditRead(tx, actor, entries, meta, { view: 'monthly', month });
      return sortEntries(entries, sort);
    });
  }

  /**
   * Generates the previous month's log for every prescriber with controlled prescriptions, in
   * every tenant (or one); a log already generated is kept. Returns how many logs were written.
   */
  async generateMonthlyLogs(options: { readonly tenantId?: TenantId } = {}): Promise<number> {
    const month = previousMonth(this.clock.now());
    const { from, to } = monthBounds(month);
    const tenants =
      options.tenantId !== undefined
        ? [options.tenantId]
        : await this.db.withoutTenant(async (tx) =>
            (await tx.query<{ t: string }>('SELECT scrip_tenant_ids() AS t')).rows.map((r) =>
              asTenantId(r.t),
            ),
          );
    let written = 0;
    for (const tenantId of tenants) {
      written += await this.db.withTenant(tenantId, async (tx) => {
        const { rows } = await tx.query<{ prescriber_id: string }>(
          `SELECT DISTINCT prescriber_id FROM prescriptions
            WHERE dea_schedule IS NOT NULL AND signed_at >= $1 AND signed_at < $2 ORDER BY prescriber_id`,
          [from, to],
        );
        let n = 0;
        for (const { prescriber_id: prescriberId } of rows) {
          const entries = sortEntries(
            await this.#entries(tx, tenantId, prescriberId, from, to),
            'date',
          );
          const id = randomUUID();
          const { version, sealed } = await sealRow(
            tx,
            this.keyring,
            tenantId,
            PRESCRIBER_LOGS,
            id,
            {
              entries: JSON.stringify(entries),
            },
          );
          const inserted = await tx.query(
            `INSERT INTO prescriber_monthly_logs (id, tenant_id, prescriber_id, month, entry_count, dek_version, entries, generated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, prescriber_id, month) DO NOTHING`,
            [
              id,
              tenantId,
              prescriberId,
              month,
              entries.length,
              version,
              sealed.entries,
              this.clock.now(),
            ],
          );
          if (inserted.rowCount !== 1) continue;
          n++;
          await appendAudit(
            tx,
            {
              tenantId,
              actor: { kind: 'system' },
              action: 'prescription.log.generated',
              outcome: 'success',
              subjects: [{ type: 'user', id: prescriberId }],
              details: { month, entries: entries.length },
            },
            this.clock,
          );
        }
        return n;
      });
    }
    return written;
  }

  async #entries(
    tx: Tx,
    tenantId: TenantId,
    prescriberId: string,
    from: Date,
    to: Date,
  ): Promise<LogEntry[]> {
    const list = await this.repo.list(tx, tenantId, {
      prescriberId,
      controlledOnly: true,
      signedFrom: from,
      signedTo: to,
      limit: 100_000,
    });
    const names = new Map<string, string>();
    const out: LogEntry[] = [];
    for (const p of list) out.push(await this.#entry(tx, tenantId, p, names));
    return out;
  }

  async #entry(
    tx: Tx,
    tenantId: TenantId,
    p: Prescription,
    names: Map<string, string>,
  ): Promise<LogEntry> {
    let name = names.get(p.patientId);
    if (name === undefined) {
      const patient = await this.patients.get(tx, tenantId, p.patientId);
      name = patient.shredded ? '(destroyed)' : `${patient.familyName}, ${patient.givenName}`;
      names.set(p.patientId, name);
    }
    return {
      prescriptionId: p.id,
      signedAt: p.signedAt?.toISOString() ?? '',
      patientId: p.patientId,
      patientName: name,
      drugName: p.content.drug.name,
      strength: p.content.drug.strength,
      doseForm: p.content.drug.doseForm,
      quantity: `${String(p.content.quantity.value)} ${p.content.quantity.unit}`,
      schedule: p.deaSchedule ?? '',
      deaNumber: p.content.deaNumber ?? '',
      status: p.status,
    };
  }

  /**
   * One `prescription.log.read` record per {@link AUDIT_LIMITS.subjects} patients, all in the
   * read's transaction so the disclosure is recorded (45 CFR 164.312(b)) before any entry leaves;
   * `part`/`parts` tie the records of one read together.
   */
  async #auditRead(
    tx: Tx,
    actor: Actor,
    entries: readonly LogEntry[],
    meta: RequestMeta,
    details: Readonly<Record<string, string | number>>,
  ): Promise<void> {
    const patients = [...new Set(entries.map((e) => e.patientId))];
    const size = AUDIT_LIMITS.subjects;
    const parts = Math.max(1, Math.ceil(patients.length / size));
    for (let part = 0; part < parts; part++) {
      await appendAudit(
        tx,
        {
          tenantId: actor.tenantId,
          actor: { kind: 'user', userId: actor.userId, sessionId: actor.sessionId },
          action: 'prescription.log.read',
          outcome: 'success',
          subjects: patients
            .slice(part * size, (part + 1) * size)
            .map((id) => ({ type: 'patient', id })),
          ...(meta.requestId === undefined ? {} : { requestId: meta.requestId }),
          details: { ...details, entries: entries.length, part: part + 1, parts },
        },
        this.clock,
      );
    }
  }
}
