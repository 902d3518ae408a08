/**
 * Wall-clock arithmetic in IANA time zones with `Intl.DateTimeFormat` alone (no tz database
 * library): local parts of an instant, and the UTC bounds of a local calendar day.
 */

/** Local calendar parts of an instant; `weekday` 0 = Sunday … 6 = Saturday. */
export interface LocalParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when the runtime knows `timeZone` as an IANA zone name. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function localParts(at: Date, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS.indexOf(parts.weekday ?? ''),
  };
}

/** The local date of `at` as `YYYY-MM-DD`. */
export function localDate(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${String(p.year).padStart(4, '0')}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** Offset of `timeZone` from UTC at instant `ms`, in ms (local − UTC), to the minute. */
function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(new Date(ms), timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return asUtc - (ms - (((ms % 60_000) + 60_000) % 60_000));
}

/** The first instant whose local time in `timeZone` is 00:00 (or later, across a DST gap) on `day`. */
function startOfLocalDay(day: string, timeZone: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (m === null) throw new TypeError('day must be YYYY-MM-DD');
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  let guess = wall - offsetAt(wall, timeZone);
  guess = wall - offsetAt(guess, timeZone);
  // Midnight skipped by a DST jump: the day then starts at the first instant on that date.
  while (localDate(new Date(guess), timeZone) < day) guess += 15 * 60_000;
  while (localDate(new Date(guess - 15 * 60_000), timeZone) === day) guess -= 15 * 60_000;
  return new Date(guess);
}

/** `[start, end)` in UTC of local calendar day `day` (`YYYY-MM-DD`) in `timeZone`. */
export function localDayBounds(day: string, timeZone: string): { start: Date; end: Date } {
  const start = startOfLocalDay(day, timeZone);
  return { start, end: startOfLocalDay(addDays(day, 1), timeZone) };
}

/** `day` (`YYYY-MM-DD`) plus `n` calendar days. */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new TypeError('day must be YYYY-MM-DD');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Working hours: local `start` ≤ time < `end` (`HH:MM`) on `days` (0 = Sunday). */
export interface WorkingHours {
  readonly timeZone: string;
  readonly start: string;
  readonly end: string;
  readonly days: readonly number[];
}

function minutes(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (m === null) throw new TypeError('time must be HH:MM');
  return Number(m[1]) * 60 + Number(m[2]);
}

/** True when `at` falls inside `hours` (an overnight range such as 22:00–06:00 is allowed). */
export function withinHours(at: Date, hours: WorkingHours): boolean {
  const p = localParts(at, hours.timeZone);
  const now = p.hour * 60 + p.minute;
  const start = minutes(hours.start);
  const end = minutes(hours.end);
  if (start <= end) return hours.days.includes(p.weekday) && now >= start && now < end;
  // Overnight: the part after midnight belongs to the previous day's shift.
  if (now >= start) return hours.days.includes(p.weekday);
  return now < end && hours.days.includes((p.weekday + 6) % 7);
}

export { minutes as parseHourMinute };
