/**
 * How long audit records are kept. HIPAA requires documentation of the security program (audit
 * records included) to be retained for six years from its creation or last effective date,
 * 45 CFR 164.316(b)(2)(i); state law or a BAA may ask for longer, so the period is configurable
 * upwards and never below six years.
 */
import { AppError } from '../core/index.js';

/** The statutory floor, in years. */
export const MIN_RETENTION_YEARS = 6;

export interface RetentionPolicy {
  readonly years: number;
}

/**
 * A validated policy: an integer of at least {@link MIN_RETENTION_YEARS} (and at most 100), else
 * `AppError('config_invalid')` naming `key` (e.g. `SCRIP_AUDIT_RETENTION_YEARS`).
 */
export function retentionPolicy(
  years: number = MIN_RETENTION_YEARS,
  key = 'SCRIP_AUDIT_RETENTION_YEARS',
): RetentionPolicy {
  if (!Number.isSafeInteger(years) || years < MIN_RETENTION_YEARS || years > 100) {
    throw new AppError(
      'config_invalid',
      `${key} must be a whole number of years from ${MIN_RETENTION_YEARS} to 100 (45 CFR 164.316(b)(2)(i))`,
      { detail: key },
    );
  }
  return Object.freeze({ years });
}

/** Parses the setting's text form (unset means the six-year default). */
export function parseRetentionYears(
  text: string | undefined,
  key = 'SCRIP_AUDIT_RETENTION_YEARS',
): RetentionPolicy {
  if (text === undefined || text.trim() === '') return retentionPolicy(MIN_RETENTION_YEARS, key);
  if (!/^\d{1,3}$/.test(text.trim())) {
    throw new AppError('config_invalid', `${key} must be a whole number of years`, { detail: key });
  }
  return retentionPolicy(Number(text.trim()), key);
}

function addYears(at: Date, years: number): Date {
  const d = new Date(at.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

/** The first instant at which something created at `createdAt` may be discarded. */
export function retainUntil(policy: RetentionPolicy, createdAt: Date): Date {
  return addYears(createdAt, policy.years);
}

/** Records created strictly before this instant are past retention at `now`. */
export function retentionCutoff(policy: RetentionPolicy, now: Date): Date {
  return addYears(now, -policy.years);
}
