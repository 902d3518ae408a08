/**
 * The daily EPCS audit review (21 CFR 1311.150(b)-(c), 1311.215): once per calendar day the
 * previous day's audit trail is analysed for the auditable events of 1311.150, an incident report
 * is stored, and a person marks each item a security incident or not. Reports are immutable;
 * each item is decided once (a trigger enforces both). Producing the report and every decision are
 * audit records (45 CFR 164.312(b)). Days are the tenant's local days in its configured time zone
 * (the `off_hours_access` rule's `timeZone`, UTC by default).
 */
import {
  AppError,
  cryptoRandom,
  isUuid,
  type Clock,
  type Random,
  type TenantId,
} from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit, type AuditRecord } from '../audit/index.js';
import {
  ACCESS_CONTEXT_DENY,
  AUDIT_VERIFY_FAILED,
  AUTH_LOCKOUT,
  AUTH_LOGIN_FAILURE,
  EPCS_PERMISSION_PREFIX,
  EPCS_REVIEW_CREATE,
  EPCS_REVIEW_DECIDE,
  IDENTITY_PROOFING_PREFIX,
  PRESCRIPTION_EDIT_REFUSED,
  RX_SIGN_CONTROLLED,
  actionMatches,
} from './actions.js';
import { parseAuditRecord, useTenantContext } from './audit-stream.js';
import { loadRuleSet } from './rules.js';
import { addDays, isTimeZone, localDate, localDayBounds } from './time-zone.js';

/**
 * The 1311.150(a) events the review lists: changes to EPCS logical access controls and identity
 * proofing ((a)(4), (a)(6)), controlled-substance signing and failed attempts, requests refused
 * by the context policy and failed sign-ins or lockouts of the tenant's members ((a)(1) attempted
 * unauthorized access), refused changes to a signed
 * prescription ((a)(2) attempted unauthorized modification), audit-trail failures ((a)(5)).
 */
export const EPCS_REVIEW_CATEGORIES = [
  'permission_change',
  'controlled_signing',
  'failed_signing',
  'identity_proofing',
  'audit_failure',
  'unauthorized_access',
  'refused_modification',
] as const;
export type EpcsReviewCategory = (typeof EPCS_REVIEW_CATEGORIES)[number];
export type EpcsDecision = 'incident' | 'not_incident';

/** The 1311.150 category of an audit record, or null when the review ignores it. */
export function epcsCategory(
  record: Pick<AuditRecord, 'action' | 'outcome'>,
): EpcsReviewCategory | null {
  if (actionMatches(record.action, EPCS_PERMISSION_PREFIX)) return 'permission_change';
  if (record.action === RX_SIGN_CONTROLLED) {
    return record.outcome === 'success' ? 'controlled_signing' : 'failed_signing';
  }
  if (actionMatches(record.action, IDENTITY_PROOFING_PREFIX)) return 'identity_proofing';
  if (record.action === AUDIT_VERIFY_FAILED) return 'audit_failure';
  if (
    record.action === ACCESS_CONTEXT_DENY ||
    record.action === AUTH_LOGIN_FAILURE ||
    record.action === AUTH_LOCKOUT
  ) {
    return 'unauthorized_access';
  }
  if (record.action === PRESCRIPTION_EDIT_REFUSED) return 'refused_modification';
  return null;
}

export interface EpcsReviewItem {
  readonly id: string;
  readonly seq: number;
  readonly category: EpcsReviewCategory;
  readonly action: string;
  readonly outcome: string;
  readonly at: Date;
  readonly actorUserId: string | null;
  readonly decision: EpcsDecision | null;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly note: string | null;
}

export interface EpcsReview {
  readonly id: string;
  readonly tenantId: string;
  /** The reviewed local day, `YYYY-MM-DD`. */
  readonly day: string;
  readonly timeZone: string;
  readonly periodStart: Date;
  readonly periodEnd: Date;
  readonly counts: Readonly<Record<EpcsReviewCategory, number>>;
  readonly createdAt: Date;
  readonly items: readonly EpcsReviewItem[];
}

interface ReviewDb {
  id: string;
  tenant_id: string;
  day: string;
  time_zone: string;
  period_start: Date;
  period_end: Date;
  counts: Record<EpcsReviewCategory, number>;
  created_at: Date;
}
interface ItemDb {
  id: string;
  seq: string;
  category: EpcsReviewCategory;
  action: string;
  outcome: string;
  at: Date;
  actor_user_id: string | null;
  decision: EpcsDecision | null;
  decided_by: string | null;
  decided_at: Date | null;
  note: string | null;
}

const ITEM_COLUMNS =
  'id, seq, category, action, outcome, at, actor_user_id, decision, decided_by, decided_at, note';
const REVIEW_COLUMNS =
  "id, tenant_id, to_char(day, 'YYYY-MM-DD') AS day, time_zone, period_start, period_end, counts, created_at";

function toItem(r: ItemDb): EpcsReviewItem {
  return {
    id: r.id,
    seq: Number(r.seq),
    category: r.category,
    action: r.action,
    outcome: r.outcome,
    at: r.at,
    actorUserId: r.actor_user_id,
    decision: r.decision,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    note: r.note,
  };
}

async function loadReview(tx: Tx, where: string, param: string): Promise<EpcsReview | undefined> {
  const { rows } = await tx.query<ReviewDb>(
    `SELECT ${REVIEW_COLUMNS} FROM epcs_reviews WHERE ${where}`,
    [param],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  const items = await tx.query<ItemDb>(
    `SELECT ${ITEM_COLUMNS} FROM epcs_review_items WHERE review_id = $1 ORDER BY seq`,
    [r.id],
  );
  return {
    id: r.id,
    tenantId: r.tenant_id,
    day: r.day,
    timeZone: r.time_zone,
    periodStart: r.period_start,
    periodEnd: r.period_end,
    counts: r.counts,
    createdAt: r.created_at,
    items: items.rows.map(toItem),
  };
}

/** The day's 1311.150 events: the tenant's own, plus platform audit-integrity failures. */
async function collectEvents(
  tx: Tx,
  tenantId: TenantId,
  start: Date,
  end: Date,
): Promise<AuditRecord[]> {
  const own = await tx.query<{ record: string }>(
    `SELECT record FROM audit_log
      WHERE tenant_id = $1 AND time >= $2 AND time < $3
        AND (action = ANY($4::text[]) OR starts_with(action, $5) OR starts_with(action, $6))
      ORDER BY seq`,
    [
      tenantId,
      start,
      end,
      [RX_SIGN_CONTROLLED, AUDIT_VERIFY_FAILED, ACCESS_CONTEXT_DENY, PRESCRIPTION_EDIT_REFUSED],
      EPCS_PERMISSION_PREFIX,
      IDENTITY_PROOFING_PREFIX,
    ],
  );
  // Sign-in failures and lockouts are platform records (no tenant before sign-in): those of this
  // tenant's members belong in its report.
  const members = await tx.query<{ user_id: string }>(
    'SELECT user_id::text AS user_id FROM memberships WHERE tenant_id = $1',
    [tenantId],
  );
  await useTenantContext(tx, null);
  const platform = await tx.query<{ record: string }>(
    `SELECT record FROM audit_log
      WHERE tenant_id IS NULL AND time >= $1 AND time < $2
        AND (action = $3 OR (action = ANY($4::text[]) AND actor_user_id = ANY($5::text[])))
      ORDER BY seq`,
    [
      start,
      end,
      AUDIT_VERIFY_FAILED,
      [AUTH_LOGIN_FAILURE, AUTH_LOCKOUT],
      members.rows.map((r) => r.user_id),
    ],
  );
  await useTenantContext(tx, tenantId);
  return [...own.rows, ...platform.rows]
    .map((r) => parseAuditRecord(r.record))
    .sort((a, b) => a.seq - b.seq);
}

export interface EpcsReviewOptions {
  /** Overrides the tenant's configured time zone (IANA name). */
  readonly timeZone?: string;
  readonly random?: Random;
}

/**
 * Produces (or returns, if already produced) the tenant's report for the local day before `date`
 * (`YYYY-MM-DD`, or the local date of an instant). Idempotent per tenant and day, also across
 * processes (unique (tenant, day)). A day that has not ended yet is `AppError('conflict')`.
 */
export async function runDailyEpcsReview(
  db: Database,
  date: Date | string,
  tenantId: TenantId,
  clock: Clock,
  options: EpcsReviewOptions = {},
): Promise<EpcsReview> {
  const random = options.random ?? cryptoRandom;
  return db.withTenant(tenantId, async (tx) => {
    const timeZone = options.timeZone ?? (await loadRuleSet(tx)).off_hours_access.timeZone;
    if (!isTimeZone(timeZone))
      throw new AppError('validation_failed', 'unknown time zone', { detail: 'timeZone' });
    const day = addDays(typeof date === 'string' ? date : localDate(date, timeZone), -1);
    const { start, end } = localDayBounds(day, timeZone);
    if (end.getTime() > clock.now().getTime()) {
      throw new AppError('conflict', `day ${day} has not ended yet`);
    }
    const existing = await loadReview(tx, 'day = $1::date', day);
    if (existing !== undefined) return existing;
    const events = await collectEvents(tx, tenantId, start, end);
    const counts = Object.fromEntries(EPCS_REVIEW_CATEGORIES.map((c) => [c, 0])) as Record<
      EpcsReviewCategory,
      number
    >;
    const items = events.flatMap((record) => {
      const category = epcsCategory(record);
      if (category === null) return [];
      counts[category]++;
      return [{ record, category }];
    });
    const id = random.uuid();
    const inserted = await tx.query(
      `INSERT INTO epcs_reviews (id, tenant_id, day, time_zone, period_start, period_end, counts, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, day) DO NOTHING`,
      [id, tenantId, day, timeZone, start, end, JSON.stringify(counts), clock.now()],
    );
    if (inserted.rowCount === 0) {
      const other = await loadReview(tx, 'day = $1::date', day);
      if (other === undefined) throw new AppError('internal', 'epcs review vanished');
      return other;
    }
    for (const { record, category } of items) {
      await tx.query(
        `INSERT INTO epcs_review_items (id, review_id, tenant_id, seq, category, action, outcome, at, actor_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          random.uuid(),
          id,
          tenantId,
          record.seq,
          category,
          record.action,
          record.outcome,
          new Date(record.time),
          record.actor.userId,
        ],
      );
    }
    await appendAudit(
      tx,
      {
        tenantId,
        actor: { kind: 'system' },
        action: EPCS_REVIEW_CREATE,
        outcome: 'success',
        subjects: [{ type: 'epcs_review', id }],
        details: { day, items: items.length },
      },
      clock,
    );
    const review = await loadReview(tx, 'id = $1', id);
    if (review === undefined) throw new AppError('internal', 'epcs review vanished');
    return review;
  });
}

/** The stored report of a tenant's local day (`YYYY-MM-DD`), or `AppError('not_found')`. */
export async function getEpcsReview(
  db: Database,
  tenantId: TenantId,
  day: string,
): Promise<EpcsReview> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day))
    throw new AppError('validation_failed', 'day must be YYYY-MM-DD', { detail: 'day' });
  const review = await db.withTenant(tenantId, (tx) => loadReview(tx, 'day = $1::date', day));
  if (review === undefined) throw new AppError('not_found', 'epcs review not found');
  return review;
}

export interface EpcsItemDecision {
  readonly itemId: string;
  readonly decision: EpcsDecision;
  /** The person deciding (a user id). */
  readonly userId: string;
  /** Kept with the item, never copied into the audit record. */
  readonly note?: string;
}

/**
 * A person marks an item `incident` or `not_incident`; audited in the same transaction. An item
 * already decided is `AppError('conflict')`: decisions are final (21 CFR 1311.150(b) report kept).
 */
export async function decideEpcsReviewItem(
  db: Database,
  tenantId: TenantId,
  d: EpcsItemDecision,
  clock: Clock,
): Promise<EpcsReviewItem> {
  if (!(['incident', 'not_incident'] as readonly string[]).includes(d.decision)) {
    throw new AppError('validation_failed', 'decision must be incident or not_incident', {
      detail: 'decision',
    });
  }
  if (d.note !== undefined && d.note.length > 1000) {
    throw new AppError('validation_failed', 'note is longer than 1000 characters', {
      detail: 'note',
    });
  }
  if (!isUuid(d.itemId)) throw new AppError('not_found', 'review item not found');
  return db.withTenant(tenantId, async (tx) => {
    const { rows } = await tx.query<ItemDb & { review_id: string }>(
      `UPDATE epcs_review_items SET decision = $2, decided_by = $3, decided_at = $4, note = $5
        WHERE id = $1 AND decision IS NULL RETURNING ${ITEM_COLUMNS}, review_id`,
      [d.itemId, d.decision, d.userId, clock.now(), d.note ?? null],
    );
    const row = rows[0];
    if (row === undefined) {
      const exists = await tx.query('SELECT 1 FROM epcs_review_items WHERE id = $1', [d.itemId]);
      if (exists.rowCount === 0) throw new AppError('not_found', 'review item not found');
      throw new AppError('conflict', 'review item is already decided');
    }
    await appendAudit(
      tx,
      {
        tenantId,
        actor: { kind: 'user', userId: d.userId },
        action: EPCS_REVIEW_DECIDE,
        outcome: 'success',
        subjects: [
          { type: 'epcs_review_item', id: row.id },
          { type: 'epcs_review', id: row.review_id },
        ],
        details: { decision: d.decision, category: row.category, seq: Number(row.seq) },
      },
      clock,
    );
    return toItem(row);
  });
}

/**
 * Runs the review for every tenant for its local day before `clock.now()` (idempotent, so a
 * scheduler may call it as often as it likes). One tenant's failure does not stop the others:
 * the failures are returned.
 */
export async function runDailyEpcsReviews(
  db: Database,
  clock: Clock,
): Promise<{ reviews: EpcsReview[]; failures: { tenantId: TenantId; error: unknown }[] }> {
  const ids = await db.withoutTenant(
    async (tx) => (await tx.query<{ id: TenantId }>('SELECT scrip_tenant_ids() AS id')).rows,
  );
  const reviews: EpcsReview[] = [];
  const failures: { tenantId: TenantId; error: unknown }[] = [];
  for (const { id } of ids) {
    try {
      reviews.push(await runDailyEpcsReview(db, clock.now(), id, clock));
    } catch (error) {
      failures.push({ tenantId: id, error });
    }
  }
  return { reviews, failures };
}
