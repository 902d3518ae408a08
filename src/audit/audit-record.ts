/**
 * The audit record: what an event becomes, its canonical bytes and its hashes.
 *
 * An {@link AuditEvent} is what a domain reports (45 CFR 164.312(b) audit controls): who, what,
 * on which subjects, from where, with what outcome. It carries identifiers and codes only, never
 * PHI values (no names, dates of birth, drug names, free text from a chart). The stored record
 * adds `seq`, `time` and `prevHash` and normalises every optional field to `null` (or `[]`/`{}`),
 * so the same record rebuilt from the table's structured columns yields the same bytes.
 *
 * - record bytes: RFC 8785 JCS of the {@link AuditRecord} (UTF-8);
 * - leaf hash:    RFC 9162 §2.1.1 SHA-256(0x00 ‖ record bytes);
 * - chain hash:   SHA-256(chain_{n-1} ‖ leaf_n), chain_{-1} = 32 zero bytes ({@link GENESIS_HASH}).
 * `prevHash` in record n is chain_{n-1} (hex), so each leaf also commits to the whole history.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { isUuid, type TenantId } from '../core/index.js';
import { canonicalizeToBytes } from '../crypto/jcs.js';

export type AuditActorKind = 'user' | 'system' | 'cli';
export type AuditOutcome = 'success' | 'failure' | 'denied';
export type AuditDetailValue = string | number | boolean | null;

/** Who acted. `userId`/`sessionId` are opaque identifiers, `role` the role in effect. */
export interface AuditActor {
  readonly kind: AuditActorKind;
  readonly userId?: string;
  readonly role?: string;
  readonly sessionId?: string;
}

/** What was acted on, by identifier only (e.g. `{ type: 'patient', id: <uuid> }`). */
export interface AuditSubject {
  readonly type: string;
  readonly id: string;
}

/** An event to append; see the module comment. No PHI values, ever. */
export interface AuditEvent {
  readonly tenantId: TenantId | null;
  readonly actor: AuditActor;
  /** Dotted lower-case name, e.g. `key.kek.rotate`, `patient.read`. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly subjects?: readonly AuditSubject[];
  readonly source?: { readonly ip?: string; readonly userAgent?: string };
  readonly requestId?: string;
  /** Why (e.g. the break-glass justification code or ticket). */
  readonly reason?: string;
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
}

/** The stored, hashed record (all fields present; absent ones are `null`, `[]` or `{}`). */
export interface AuditRecord {
  readonly v: 1;
  readonly seq: number;
  readonly time: string;
  readonly tenantId: string | null;
  readonly actor: {
    readonly kind: AuditActorKind;
    readonly userId: string | null;
    readonly role: string | null;
    readonly sessionId: string | null;
  };
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly subjects: readonly AuditSubject[];
  readonly source: { readonly ip: string | null; readonly userAgent: string | null };
  readonly requestId: string | null;
  readonly reason: string | null;
  readonly details: Readonly<Record<string, AuditDetailValue>>;
  /** chain_{seq-1} as lower-case hex. */
  readonly prevHash: string;
}

/** Limits enforced by {@link validateAuditEvent}; callers holding client input truncate first. */
export const AUDIT_LIMITS = {
  action: 100,
  identifier: 200,
  subjects: 50,
  userAgent: 512,
  reason: 1000,
  detailKeys: 32,
  detailString: 1000,
  recordBytes: 16_384,
} as const;

/** chain_{-1}: the previous-hash of record 0. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const SUBJECT_TYPE_RE = /^[a-z][a-z0-9_]{0,49}$/;
const DETAIL_KEY_RE = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;
const ACTOR_KINDS: readonly string[] = ['user', 'system', 'cli'];
const OUTCOMES: readonly string[] = ['success', 'failure', 'denied'];

function checkString(name: string, value: unknown, max: number, min = 1): void {
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new TypeError(`audit event: ${name} must be a non-empty string of at most ${max} chars`);
  }
  // PostgreSQL jsonb cannot hold U+0000; nothing in an audit record needs a control character.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new TypeError(`audit event: ${name} contains a control character`);
  }
}

function checkOptional(name: string, value: unknown, max: number): void {
  if (value !== undefined) checkString(name, value, max);
}

/**
 * Checks an event against the contract above. Violations are programmer misuse: `TypeError`.
 * (Size of the whole record is checked again once it is built, by {@link auditRecordBytes}.)
 */
export function validateAuditEvent(event: AuditEvent): void {
  if (typeof event !== 'object' || (event as unknown) === null) {
    throw new TypeError('audit event must be an object');
  }
  if (event.tenantId !== null && (typeof event.tenantId !== 'string' || !isUuid(event.tenantId))) {
    throw new TypeError('audit event: tenantId must be a UUID or null');
  }
  const actor = event.actor as AuditActor | undefined;
  if (typeof actor !== 'object' || !ACTOR_KINDS.includes(actor.kind)) {
    throw new TypeError('audit event: actor.kind must be user, system or cli');
  }
  checkOptional('actor.userId', actor.userId, AUDIT_LIMITS.identifier);
  checkOptional('actor.role', actor.role, AUDIT_LIMITS.identifier);
  checkOptional('actor.sessionId', actor.sessionId, AUDIT_LIMITS.identifier);
  if (actor.kind === 'user' && actor.userId === undefined) {
    throw new TypeError('audit event: a user actor needs userId');
  }
  checkString('action', event.action, AUDIT_LIMITS.action);
  if (!ACTION_RE.test(event.action)) {
    throw new TypeError('audit event: action must be dotted lower-case, e.g. "key.kek.rotate"');
  }
  if (!OUTCOMES.includes(event.outcome)) {
    throw new TypeError('audit event: outcome must be success, failure or denied');
  }
  const subjects: readonly AuditSubject[] = event.subjects ?? [];
  if (!Array.isArray(subjects) || subjects.length > AUDIT_LIMITS.subjects) {
    throw new TypeError(`audit event: at most ${AUDIT_LIMITS.subjects} subjects`);
  }
  for (const item of subjects as readonly unknown[]) {
    const s = item as Partial<AuditSubject> | null;
    if (typeof s !== 'object' || s === null || typeof s.type !== 'string') {
      throw new TypeError('audit event: a subject must be { type, id }');
    }
    if (!SUBJECT_TYPE_RE.test(s.type)) {
      throw new TypeError('audit event: subject type must be lower-case snake_case');
    }
    checkString('subject id', s.id, AUDIT_LIMITS.identifier);
  }
  const ip = event.source?.ip;
  if (ip !== undefined && isIP(ip) === 0) throw new TypeError('audit event: source.ip is not IP');
  checkOptional('source.userAgent', event.source?.userAgent, AUDIT_LIMITS.userAgent);
  checkOptional('requestId', event.requestId, AUDIT_LIMITS.identifier);
  checkOptional('reason', event.reason, AUDIT_LIMITS.reason);
  validateDetails(event.details ?? {});
}

function validateDetails(details: Readonly<Record<string, AuditDetailValue>>): void {
  if (typeof details !== 'object' || Array.isArray(details)) {
    throw new TypeError('audit event: details must be an object');
  }
  const keys = Object.keys(details);
  if (keys.length > AUDIT_LIMITS.detailKeys) {
    throw new TypeError(`audit event: at most ${AUDIT_LIMITS.detailKeys} details`);
  }
  for (const key of keys) {
    if (!DETAIL_KEY_RE.test(key)) throw new TypeError(`audit event: bad details key "${key}"`);
    const value: unknown = details[key];
    if (typeof value === 'string') {
      checkString(`details.${key}`, value, AUDIT_LIMITS.detailString, 0);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new TypeError(`audit event: details.${key} not finite`);
    } else if (typeof value !== 'boolean' && value !== null) {
      throw new TypeError(`audit event: details.${key} must be a string, number, boolean or null`);
    }
  }
}

/** The stored record for `event` at `seq`, timestamped `time`, following chain hash `prevHash`. */
export function buildAuditRecord(
  event: AuditEvent,
  seq: number,
  time: Date,
  prevHash: Uint8Array,
): AuditRecord {
  return {
    v: 1,
    seq,
    time: time.toISOString(),
    tenantId: event.tenantId,
    actor: {
      kind: event.actor.kind,
      userId: event.actor.userId ?? null,
      role: event.actor.role ?? null,
      sessionId: event.actor.sessionId ?? null,
    },
    action: event.action,
    outcome: event.outcome,
    subjects: (event.subjects ?? []).map((s) => ({ type: s.type, id: s.id })),
    source: { ip: event.source?.ip ?? null, userAgent: event.source?.userAgent ?? null },
    requestId: event.requestId ?? null,
    reason: event.reason ?? null,
    details: { ...(event.details ?? {}) },
    prevHash: Buffer.from(prevHash).toString('hex'),
  };
}

/** RFC 8785 canonical bytes of a record; `TypeError` above {@link AUDIT_LIMITS}.recordBytes. */
export function auditRecordBytes(record: AuditRecord): Buffer {
  const bytes = canonicalizeToBytes(record);
  if (bytes.length > AUDIT_LIMITS.recordBytes) {
    throw new TypeError(`audit record exceeds ${AUDIT_LIMITS.recordBytes} bytes`);
  }
  return bytes;
}

/** chain_n = SHA-256(chain_{n-1} ‖ leaf_n). */
export function chainHash(prev: Uint8Array, leaf: Uint8Array): Buffer {
  return createHash('sha256').update(prev).update(leaf).digest();
}

/** One row of `audit_log` as read back (bigint and bytea already converted). */
export interface StoredAuditRow {
  readonly seq: number;
  readonly time: Date;
  readonly dbTime: Date;
  readonly tenantId: string | null;
  readonly actorKind: string;
  readonly actorUserId: string | null;
  readonly actorRole: string | null;
  readonly actorSessionId: string | null;
  readonly action: string;
  readonly outcome: string;
  readonly subjects: unknown;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly reason: string | null;
  readonly details: unknown;
  readonly prevHash: Buffer;
  readonly record: string;
  readonly leafHash: Buffer;
  readonly chainHash: Buffer;
}

/**
 * The canonical bytes the structured columns describe, with `seq` taken from `seq` (the caller
 * passes the column, or the record's own seq to tell a renumbered row from a modified one).
 * Comparing them with the stored bytes catches a column changed without the record.
 */
export function bytesFromColumns(row: StoredAuditRow, seq: number = row.seq): Buffer {
  return canonicalizeToBytes({
    v: 1,
    seq,
    time: Number.isNaN(row.time.getTime()) ? null : row.time.toISOString(),
    tenantId: row.tenantId,
    actor: {
      kind: row.actorKind,
      userId: row.actorUserId,
      role: row.actorRole,
      sessionId: row.actorSessionId,
    },
    action: row.action,
    outcome: row.outcome,
    subjects: row.subjects,
    source: { ip: row.sourceIp, userAgent: row.userAgent },
    requestId: row.requestId,
    reason: row.reason,
    details: row.details,
    prevHash: row.prevHash.toString('hex'),
  });
}
