/**
 * Break-glass: the emergency access procedure of 45 CFR 164.312(a)(2)(ii). A user with
 * `breakglass.use` opens a patient's record outside their relationships, after a fresh second
 * factor (the route's step-up `breakglass.start`), giving a category and a free-text reason. The
 * session is time-boxed (tenant setting, default 60 minutes, at most 240), read-only unless the
 * tenant allows writes, raises a high-severity alert to the tenant's security officers in the
 * same transaction as its audit record, and waits in a post-hoc review queue until someone else
 * with `breakglass.review` closes it as justified or unjustified. Every access during it is
 * marked through {@link activeBreakGlass}.
 */
import { AppError, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { AuditDetailValue } from '../audit/index.js';
import type { RequestMeta } from '../identity/index.js';
import { BREAKGLASS_CLOSE, BREAKGLASS_OPEN, BREAKGLASS_REVIEW } from '../monitoring/actions.js';
import { auditAccess, auditRefusal } from './access-audit.js';
import type { AccessCaller } from './access-caller.js';
import { accessSettings } from './access-settings.js';

export const BREAK_GLASS_CATEGORIES = [
  'emergency_treatment',
  'patient_safety',
  'system_outage',
  'other',
] as const;
export type BreakGlassCategory = (typeof BREAK_GLASS_CATEGORIES)[number];

/** The step-up action the start route declares. */
export const BREAK_GLASS_STEP_UP = 'breakglass.start';

/**
 * Raises an alert in `tx` at once (wired to the monitoring alert store by the composition root,
 * so this domain does not import monitoring); returns the alert id.
 */
export type EmergencyAlerter = (
  tx: Tx,
  alert: {
    readonly tenantId: string;
    readonly rule: 'break_glass';
    readonly subject: string;
    readonly at: Date;
    readonly seq: number;
    readonly details: Readonly<Record<string, AuditDetailValue>>;
  },
) => Promise<string>;

export interface BreakGlassSession {
  readonly id: string;
  readonly userId: string;
  readonly patientId: string;
  readonly category: string;
  readonly reason: string;
  readonly writeAllowed: boolean;
  readonly startedAt: Date;
  readonly expiresAt: Date;
  readonly endedAt: Date | null;
  /** Open while now < expires_at and not ended. */
  readonly active: boolean;
  readonly reviewStatus: 'open' | 'closed';
  readonly reviewedBy: string | null;
  readonly reviewedAt: Date | null;
  readonly reviewOutcome: 'justified' | 'unjustified' | null;
  readonly reviewNotes: string | null;
}

interface Row {
  id: string;
  user_id: string;
  patient_id: string;
  category: string;
  reason: string;
  write_allowed: boolean;
  started_at: Date;
  expires_at: Date;
  ended_at: Date | null;
  review_status: 'open' | 'closed';
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_outcome: 'justified' | 'unjustified' | null;
  review_notes: string | null;
}

const COLUMNS =
  'id, user_id, patient_id, category, reason, write_allowed, started_at, expires_at, ended_at, review_status, reviewed_by, reviewed_at, review_outcome, review_notes';

function toSession(r: Row, now: Date): BreakGlassSession {
  return {
    id: r.id,
    userId: r.user_id,
    patientId: r.patient_id,
    category: r.category,
    reason: r.reason,
    writeAllowed: r.write_allowed,
    startedAt: r.started_at,
    expiresAt: r.expires_at,
    endedAt: r.ended_at,
    active: r.ended_at === null && now.getTime() < r.expires_at.getTime(),
    reviewStatus: r.review_status,
    reviewedBy: r.reviewed_by,
    reviewedAt: r.reviewed_at,
    reviewOutcome: r.review_outcome,
    reviewNotes: r.review_notes,
  };
}

export interface ActiveBreakGlass {
  readonly sessionId: string;
  /** The category code: what an audit record may carry. */
  readonly category: string;
  /** The free-text justification: for the reviewer, never for the audit log. */
  readonly reason: string;
  readonly writeAllowed: boolean;
  readonly expiresAt: Date;
}

/**
 * The break-glass session through which `userId` may reach `patientId` at `now` (not ended,
 * started_at <= now < expires_at), or undefined. The relationship checker treats it as a
 * relationship (writes only when `writeAllowed`), and audit marking records its `sessionId` and
 * `category` on every access made through it (45 CFR 164.312(b)).
 */
export async function activeBreakGlass(
  tx: Tx,
  userId: string,
  patientId: string,
  now: Date,
): Promise<ActiveBreakGlass | undefined> {
  const { rows } = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM break_glass_sessions
      WHERE user_id = $1 AND patient_id = $2 AND ended_at IS NULL
        AND started_at <= $3 AND expires_at > $3
      ORDER BY expires_at DESC LIMIT 1`,
    [userId, patientId, now],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  return {
    sessionId: r.id,
    category: r.category,
    reason: r.reason,
    writeAllowed: r.write_allowed,
    expiresAt: r.expires_at,
  };
}

export interface BreakGlassStart {
  readonly patientId: string;
  readonly category: string;
  readonly reason: string;
  /** Shorter than the tenant's time box, if the user wants; never longer. */
  readonly minutes?: number | undefined;
}

export class BreakGlassService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly uuid: () => string,
    private readonly alert: EmergencyAlerter,
  ) {}

  /** Opens a session; the caller's route has already consumed the `breakglass.start` step-up. */
  async start(caller: AccessCaller, input: BreakGlassStart, meta?: RequestMeta) {
    const reason = input.reason.trim();
    if (reason.length < 10 || reason.length > 2000) {
      throw new AppError('validation_failed', 'a reason of 10 to 2000 characters', {
        detail: 'reason',
      });
    }
    if (!(BREAK_GLASS_CATEGORIES as readonly string[]).includes(input.category)) {
      throw new AppError('validation_failed', 'unknown category', { detail: 'category' });
    }
    if (!isUuid(input.patientId)) throw new AppError('not_found', 'no such patient');
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const settings = await accessSettings(tx, caller.tenantId);
      const minutes = Math.min(
        input.minutes ?? settings.breakGlassMinutes,
        settings.breakGlassMinutes,
      );
      if (!Number.isSafeInteger(minutes) || minutes < 1) {
        throw new AppError('validation_failed', 'minutes must be positive', { detail: 'minutes' });
      }
      const p = await tx.query('SELECT 1 FROM patients WHERE id = $1', [input.patientId]);
      if (p.rowCount === 0) throw new AppError('not_found', 'no such patient');
      const now = this.clock.now();
      if ((await activeBreakGlass(tx, caller.userId, input.patientId, now)) !== undefined) {
        throw new AppError('conflict', 'a break-glass session for this patient is active', {
          detail: 'active',
        });
      }
      const { rows } = await tx.query<Row>(
        `INSERT INTO break_glass_sessions (id, tenant_id, user_id, session_id, patient_id, category,
           reason, write_allowed, started_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [
          this.uuid(),
          caller.tenantId,
          caller.userId,
          caller.sessionId,
          input.patientId,
          input.category,
          reason,
          settings.breakGlassWriteAllowed,
          now,
          new Date(now.getTime() + minutes * 60_000),
        ],
      );
      const row = rows[0] as Row;
      const audit = await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: BREAKGLASS_OPEN,
        outcome: 'success',
        reason: input.category,
        subjects: [
          { type: 'patient', id: row.patient_id },
          { type: 'break_glass', id: row.id },
        ],
        details: {
          breakGlassId: row.id,
          category: row.category,
          minutes,
          writeAllowed: row.write_allowed,
          alertRaised: true,
        },
        meta,
      });
      const alertId = await this.alert(tx, {
        tenantId: caller.tenantId,
        rule: 'break_glass',
        subject: caller.userId,
        at: now,
        seq: audit.seq,
        details: {
          action: BREAKGLASS_OPEN,
          actorUserId: caller.userId,
          breakGlassId: row.id,
          category: row.category,
          writeAllowed: row.write_allowed,
        },
      });
      return { session: toSession(row, now), alertId };
    });
  }

  /** The user who broke the glass ends their session early. */
  async end(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<BreakGlassSession> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.#lock(tx, id);
      if (row.user_id !== caller.userId) throw new AppError('not_found', 'no such session');
      const now = this.clock.now();
      if (!toSession(row, now).active) {
        throw new AppError('conflict', 'the session is over', { detail: 'over' });
      }
      const { rows } = await tx.query<Row>(
        `UPDATE break_glass_sessions SET ended_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, now],
      );
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: BREAKGLASS_CLOSE,
        outcome: 'success',
        subjects: [
          { type: 'patient', id: row.patient_id },
          { type: 'break_glass', id: row.id },
        ],
        details: { breakGlassId: row.id, early: true },
        meta,
      });
      return toSession(rows[0] as Row, now);
    });
  }

  /**
   * Closes the post-hoc review of a session that is over. Someone other than the user who broke
   * the glass must do it (refused attempts are audited); an unjustified outcome alerts at once.
   */
  async closeReview(
    caller: AccessCaller,
    id: string,
    input: { readonly outcome: 'justified' | 'unjustified'; readonly notes: string },
    meta?: RequestMeta,
  ): Promise<BreakGlassSession> {
    const notes = input.notes.trim();
    if (notes.length < 1 || notes.length > 2000) {
      throw new AppError('validation_failed', 'notes are required', { detail: 'notes' });
    }
    const attempt = {
      tenantId: caller.tenantId,
      actor: caller,
      action: BREAKGLASS_REVIEW,
      subjects: [{ type: 'break_glass', id }],
      meta,
    };
    return auditRefusal(this.db, this.clock, attempt, () =>
      this.db.withTenant(caller.tenantId, async (tx) => {
        const row = await this.#lock(tx, id);
        if (row.user_id === caller.userId) {
          throw new AppError('forbidden', 'nobody reviews their own break-glass', {
            detail: 'self_review',
          });
        }
        const now = this.clock.now();
        if (row.review_status !== 'open') {
          throw new AppError('conflict', 'the review is closed', { detail: 'closed' });
        }
        if (toSession(row, now).active) {
          throw new AppError('conflict', 'the session is still active', { detail: 'active' });
        }
        const { rows } = await tx.query<Row>(
          `UPDATE break_glass_sessions SET review_status = 'closed', reviewed_by = $2,
             reviewed_at = $3, review_outcome = $4, review_notes = $5
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, caller.userId, now, input.outcome, notes],
        );
        const audit = await auditAccess(tx, this.clock, {
          ...attempt,
          outcome: 'success',
          subjects: [
            { type: 'break_glass', id },
            { type: 'user', id: row.user_id },
          ],
          details: { breakGlassId: id, outcome: input.outcome },
        });
        if (input.outcome === 'unjustified') {
          await this.alert(tx, {
            tenantId: caller.tenantId,
            rule: 'break_glass',
            subject: row.user_id,
            at: now,
            seq: audit.seq,
            details: { action: BREAKGLASS_REVIEW, breakGlassId: id, outcome: 'unjustified' },
          });
        }
        return toSession(rows[0] as Row, now);
      }),
    );
  }

  /** One session: the user who broke the glass, or a reviewer, sees it; others get not_found. */
  async get(caller: AccessCaller, id: string): Promise<BreakGlassSession> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.#find(tx, id);
      if (row.user_id !== caller.userId && !caller.permissions.has('breakglass.review')) {
        throw new AppError('not_found', 'no such session');
      }
      return toSession(row, this.clock.now());
    });
  }

  /** The review queue (open reviews oldest first), or the caller's own sessions. */
  async list(
    tenantId: TenantId,
    options: { readonly review?: 'open' | 'closed'; readonly userId?: string } = {},
  ): Promise<BreakGlassSession[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<Row>(
        `SELECT ${COLUMNS} FROM break_glass_sessions
          WHERE tenant_id = $1 AND ($2::text IS NULL OR review_status = $2)
            AND ($3::uuid IS NULL OR user_id = $3)
          ORDER BY started_at, id LIMIT 500`,
        [tenantId, options.review ?? null, options.userId ?? null],
      );
      const now = this.clock.now();
      return rows.map((r) => toSession(r, now));
    });
  }

  async #find(tx: Tx, id: string, lock = false): Promise<Row> {
    if (!isUuid(id)) throw new AppError('not_found', 'no such session');
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM break_glass_sessions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const r = rows[0];
    if (r === undefined) throw new AppError('not_found', 'no such session');
    return r;
  }

  #lock(tx: Tx, id: string): Promise<Row> {
    return this.#find(tx, id, true);
  }
}
