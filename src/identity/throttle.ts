/**
 * Login throttling (NIST SP 800-63B §5.2.2 rate limiting): failures are counted per account and
 * per source address; past a free allowance every further failure locks the key for an
 * exponentially growing time (capped), and a quiet day forgets the count. Accounts are keyed by a
 * hash of the normalised email, so an unknown email is throttled exactly like a known one and
 * lockouts reveal nothing about which accounts exist.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { normalizeEmail } from './tokens.js';

export interface ThrottlePolicy {
  /** Failures allowed before the first lockout. */
  readonly freeFailures: number;
  /** First lockout; doubles with each further failure. */
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  /** A key with no failure for this long starts again from zero. */
  readonly forgetAfterMs: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 5,
  baseLockMs: 60_000,
  maxLockMs: 60 * 60_000,
  forgetAfterMs: 24 * 3_600_000,
};

export const SOURCE_POLICY: ThrottlePolicy = {
  freeFailures: 20,
  baseLockMs: 60_000,
  maxLockMs: 60 * 60_000,
  forgetAfterMs: 24 * 3_600_000,
};

export function accountKey(email: string): string {
  return `acct:${createHash('sha256').update(normalizeEmail(email), 'utf8').digest('base64url')}`;
}

export function userKey(userId: string): string {
  return `user:${userId}`;
}

/** The source address as a key; anything unexpected collapses to one shared bucket. */
export function sourceKey(ip: string): string {
  const clean = ip.replace(/%.*$/, '');
  return /^[0-9A-Fa-f:.]{2,64}$/.test(clean) ? `ip:${clean}` : 'ip:unknown';
}

export interface FailureResult {
  readonly failures: number;
  /** Set when this failure started (or extended) a lockout. */
  readonly lockedUntil: Date | undefined;
}

/** Counters in `login_throttle` (a platform table: use outside any tenant context). */
export class LoginThrottle {
  constructor(private readonly clock: Clock) {}

  /** The latest lockout end among `keys` that is still in the future, if any. */
  async lockedUntil(tx: Tx, keys: readonly string[]): Promise<Date | undefined> {
    const { rows } = await tx.query<{ until: Date | null }>(
      'SELECT max(locked_until) AS until FROM login_throttle WHERE key = ANY($1) AND locked_until > $2',
      [keys, this.clock.now()],
    );
    return rows[0]?.until ?? undefined;
  }

  async recordFailure(tx: Tx, key: string, policy: ThrottlePolicy): Promise<FailureResult> {
    const now = this.clock.now();
    const forgetBefore = new Date(now.getTime() - policy.forgetAfterMs);
    const { rows } = await tx.query<{ failures: number }>(
      `INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 ELSE login_throttle.failures + 1 END,
         last_failure_at = $2
       RETURNING failures`,
      [key, now, forgetBefore],
    );
    const failures = rows[0]?.failures ?? 1;
    if (failures < policy.freeFailures) return { failures, lockedUntil: undefined };
    const exponent = Math.min(failures - policy.freeFailures, 20);
    const lockMs = Math.min(policy.baseLockMs * 2 ** exponent, policy.maxLockMs);
    const lockedUntil = new Date(now.getTime() + lockMs);
    await tx.query('UPDATE login_throttle SET locked_until = $2 WHERE key = $1', [
      key,
      lockedUntil,
    ]);
    return { failures, lockedUntil };
  }

  async reset(tx: Tx, key: string): Promise<void> {
    await tx.query('UPDATE login_throttle SET failures = 0, locked_until = NULL WHERE key = $1', [
      key,
    ]);
  }
}
