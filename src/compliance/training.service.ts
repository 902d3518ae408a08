/**
 * Workforce security awareness and training records (45 CFR 164.308(a)(5)(i)): who completed
 * which course when, and until when it counts. A record is never changed: a correction is a new
 * record that supersedes the wrong one.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { addDays, checkDate, utcDay } from './dates.js';
import {
  assertMember,
  auditProgram,
  checkId,
  checkText,
  notFound,
  type ProgramActor,
} from './program-common.js';

export interface TrainingInput {
  readonly userId: string;
  /** Course identifier, e.g. `hipaa-security-awareness`. */
  readonly course: string;
  readonly completedOn: string;
  readonly expiresOn: string | null;
  /** Where the certificate or attendance record is kept (a reference, not the document). */
  readonly evidenceRef: string | null;
  /** The record this one corrects. */
  readonly supersedes: string | null;
}

export type TrainingState = 'current' | 'expiring' | 'expired' | 'no_expiry';

export interface TrainingRecord extends TrainingInput {
  readonly id: string;
  readonly recordedBy: string;
  readonly recordedAt: string;
  /** As of today, for the newest record of the user and course. */
  readonly state: TrainingState;
}

/** A record expiring within this many days is `expiring`. */
export const EXPIRING_WITHIN_DAYS = 30;

interface Row {
  id: string;
  user_id: string;
  course: string;
  completed_on: string;
  expires_on: string | null;
  evidence_ref: string | null;
  supersedes: string | null;
  recorded_by: string;
  recorded_at: Date;
}

const COLUMNS = `id, user_id, course, completed_on::text AS completed_on,
  expires_on::text AS expires_on, evidence_ref, supersedes, recorded_by, recorded_at`;

export function trainingState(expiresOn: string | null, today: string): TrainingState {
  if (expiresOn === null) return 'no_expiry';
  if (expiresOn < today) return 'expired';
  return expiresOn <= addDays(today, EXPIRING_WITHIN_DAYS) ? 'expiring' : 'current';
}

function toRecord(r: Row, today: string): TrainingRecord {
  return {
    id: r.id,
    userId: r.user_id,
    course: r.course,
    completedOn: r.completed_on,
    expiresOn: r.expires_on,
    evidenceRef: r.evidence_ref,
    supersedes: r.supersedes,
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at.toISOString(),
    state: trainingState(r.expires_on, today),
  };
}

/**
 * The record in force per member and course: the one completed last among those no other record
 * supersedes, for members whose accounts are active.
 */
export async function currentTraining(
  tx: Tx,
  tenantId: TenantId,
  today: string,
): Promise<TrainingRecord[]> {
  const { rows } = await tx.query<Row>(
    `SELECT * FROM (
       SELECT DISTINCT ON (t.user_id, t.course) t.id, t.user_id, t.course,
              t.completed_on::text AS completed_on, t.expires_on::text AS expires_on,
              t.evidence_ref, t.supersedes, t.recorded_by, t.recorded_at
         FROM compliance_training_records t
         JOIN memberships m ON m.tenant_id = t.tenant_id AND m.user_id = t.user_id
         JOIN users u ON u.id = t.user_id AND u.status = 'active'
        WHERE t.tenant_id = $1
          AND NOT EXISTS (SELECT 1 FROM compliance_training_records s
                           WHERE s.tenant_id = t.tenant_id AND s.supersedes = t.id)
        ORDER BY t.user_id, t.course, t.completed_on DESC, t.recorded_at DESC) cur
     ORDER BY course, user_id`,
    [tenantId],
  );
  return rows.map((r) => toRecord(r, today));
}

export class TrainingService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {}

  async record(actor: ProgramActor, input: TrainingInput): Promise<TrainingRecord> {
    const today = utcDay(this.clock.now());
    if (!/^[a-z][a-z0-9_.-]{1,63}$/.test(input.course)) {
      throw new AppError(
        'validation_failed',
        'course must be 2-64 lower-case letters, digits, _ . -',
        {
          detail: 'course',
        },
      );
    }
    const completedOn = checkDate('completedOn', input.completedOn);
    if (completedOn > today) {
      throw new AppError('validation_failed', 'completedOn cannot be in the future', {
        detail: 'completedOn',
      });
    }
    const expiresOn = input.expiresOn === null ? null : checkDate('expiresOn', input.expiresOn);
    if (expiresOn !== null && expiresOn <= completedOn) {
      throw new AppError('validation_failed', 'expiresOn must be after completedOn', {
        detail: 'expiresOn',
      });
    }
    const evidenceRef =
      input.evidenceRef === null ? null : checkText('evidenceRef', input.evidenceRef, 1, 500);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await assertMember(tx, actor.tenantId, 'userId', input.userId);
      if (input.supersedes !== null) {
        checkId('training record', input.supersedes);
        const { rows } = await tx.query<{ user_id: string; course: string; taken: boolean }>(
          `SELECT user_id, course, EXISTS (SELECT 1 FROM compliance_training_records s
                                            WHERE s.tenant_id = t.tenant_id AND s.supersedes = t.id) AS taken
             FROM compliance_training_records t WHERE tenant_id = $1 AND id = $2`,
          [actor.tenantId, input.supersedes],
        );
        const old = rows[0];
        if (old === undefined) throw notFound('training record');
        if (old.user_id !== input.userId || old.course !== input.course) {
          throw new AppError('validation_failed', 'a correction keeps the member and course', {
            detail: 'supersedes',
          });
        }
        if (old.taken) throw new AppError('conflict', 'that record was already corrected');
      }
      const { rows } = await tx.query<Row>(
        `INSERT INTO compliance_training_records (id, tenant_id, user_id, course, completed_on,
           expires_on, evidence_ref, supersedes, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [
          this.random.uuid(),
          actor.tenantId,
          input.userId,
          input.course,
          completedOn,
          expiresOn,
          evidenceRef,
          input.supersedes,
          actor.userId,
          this.clock.now(),
        ],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'training insert returned no row');
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_TRAINING_RECORD,
        [
          { type: 'training_record', id: row.id },
          { type: 'user', id: input.userId },
        ],
        { course: input.course, completedOn, expiresOn, supersedes: input.supersedes },
      );
      return toRecord(row, today);
    });
  }

  /** The record in force per member and course, with its state as of today. */
  async current(tenantId: TenantId): Promise<TrainingRecord[]> {
    const today = utcDay(this.clock.now());
    return this.db.withTenant(tenantId, (tx) => currentTraining(tx, tenantId, today));
  }

  /** Every record of the tenant (corrections and superseded ones included), newest first. */
  async history(tenantId: TenantId, userId?: string): Promise<TrainingRecord[]> {
    const today = utcDay(this.clock.now());
    if (userId !== undefined) checkId('user', userId);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM compliance_training_records
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
          ORDER BY recorded_at DESC, id LIMIT 5000`,
        [tenantId, userId ?? null],
      );
      return rows.map((r) => toRecord(r, today));
    });
  }
}
