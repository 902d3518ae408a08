/**
 * Calendar dates (`YYYY-MM-DD`, proleptic Gregorian, UTC) for program deadlines. The regulations
 * count calendar days (45 CFR 164.404(b) "60 calendar days"), so deadlines are dates, not instants;
 * "today" is the UTC date of the injected clock.
 */
import { AppError } from '../core/index.js';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** True for a real calendar date written `YYYY-MM-DD` (2026-02-30 is not one). */
export function isIsoDate(value: string): boolean {
  const m = DATE_RE.exec(value);
  if (m === null) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === value;
}

/** `value` if it is a calendar date, else `validation_failed` naming `field`. */
export function checkDate(field: string, value: string): string {
  if (!isIsoDate(value)) {
    throw new AppError('validation_failed', `${field} must be a date (YYYY-MM-DD)`, {
      detail: field,
    });
  }
  return value;
}

function toMs(day: string): number {
  if (!isIsoDate(day)) throw new TypeError(`not a calendar date: ${day}`);
  return Date.parse(`${day}T00:00:00Z`);
}

/** The UTC calendar date of an instant. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** `day` plus `n` calendar days (n may be negative). */
export function addDays(day: string, n: number): string {
  return new Date(toMs(day) + n * DAY_MS).toISOString().slice(0, 10);
}

/** `day` plus `n` months; the day of month is clamped (Jan 31 + 1 month = Feb 28 or 29). */
export function addMonths(day: string, n: number): string {
  const d = new Date(toMs(day));
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + n;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(d.getUTCDate(), last))).toISOString().slice(0, 10);
}

/** Whole calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((toMs(to) - toMs(from)) / DAY_MS);
}

/** December 31 of the calendar year of `day`. */
export function endOfYear(day: string): string {
  return `${day.slice(0, 4)}-12-31`;
}
