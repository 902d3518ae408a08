/**
 * Prescription rules that need no database: refill and supply limits per schedule, the Schedule
 * II multiple-prescription rule (21 CFR 1306.12(b)), the elements 21 CFR 1306.05(a) requires on
 * a controlled-substance prescription, and formats (ICD-10-CM, NCPDP provider id, dates).
 */
import { AppError } from '../core/index.js';
import type { DeaScheduleCode, PrescriptionContent } from './prescription.types.js';

export interface ScheduleLimits {
  readonly maxRefills: number;
  readonly maxDaysSupply: number;
  readonly maxQuantity: number;
}

/** Limits per schedule (`none`: not controlled). Operators may tighten them (state law). */
export type PrescriptionLimits = Readonly<Record<DeaScheduleCode | 'none', ScheduleLimits>>;

/**
 * Federal defaults: no refills for Schedule II (21 CFR 1306.12(a)); at most five for III and IV
 * (1306.22(a)); Schedule II supply bounded by the 90-day multiple-prescription rule (1306.12(b)).
 */
export const DEFAULT_LIMITS: PrescriptionLimits = {
  CII: { maxRefills: 0, maxDaysSupply: 90, maxQuantity: 10_000 },
  CIII: { maxRefills: 5, maxDaysSupply: 180, maxQuantity: 10_000 },
  CIV: { maxRefills: 5, maxDaysSupply: 180, maxQuantity: 10_000 },
  CV: { maxRefills: 11, maxDaysSupply: 365, maxQuantity: 10_000 },
  none: { maxRefills: 99, maxDaysSupply: 365, maxQuantity: 100_000 },
};

/** Operator overrides of some limits (SCRIP_RX_LIMITS); unset fields keep the defaults. */
export type LimitOverrides = Readonly<
  Partial<Record<DeaScheduleCode | 'none', Readonly<Partial<ScheduleLimits>>>>
>;

/**
 * The limits in force: the defaults with the operator's overrides. Schedule II stays at zero
 * refills whatever is given (21 CFR 1306.12(a)); the configuration schema refuses the key too.
 */
export function limitsWith(overrides: LimitOverrides = {}): PrescriptionLimits {
  const merged = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof PrescriptionLimits)[]) {
    merged[key] = { ...DEFAULT_LIMITS[key], ...overrides[key] };
  }
  merged.CII = { ...merged.CII, maxRefills: 0 };
  return merged;
}

/** ICD-10-CM code shape: letter, digit, alphanumeric, optional dot and up to four more. */
const ICD10_RE = /^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;
const NCPDP_RE = /^[0-9]{7}$/;
const DATE_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

function invalid(detail: string, message: string): AppError {
  return new AppError('validation_failed', message, { detail });
}

export function isIsoDate(value: string): boolean {
  if (!DATE_RE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

/**
 * Checks one prescription body against the limits of its schedule. Throws `validation_failed`
 * naming the field (the problem's `detail`), before anything is stored.
 */
export function validateContent(
  content: PrescriptionContent,
  limits: PrescriptionLimits = DEFAULT_LIMITS,
): void {
  const schedule = content.drug.deaSchedule;
  const limit = limits[schedule ?? 'none'];
  if (!Number.isInteger(content.refills) || content.refills < 0) {
    throw invalid('refills', 'refills must be a whole number, 0 or more');
  }
  if (schedule === 'CII' && content.refills !== 0) {
    throw invalid('refills', 'a Schedule II prescription cannot be refilled (21 CFR 1306.12(a))');
  }
  if (content.refills > limit.maxRefills) {
    throw invalid('refills', `at most ${String(limit.maxRefills)} refills for this schedule`);
  }
  if (!Number.isInteger(content.daysSupply) || content.daysSupply < 1) {
    throw invalid('daysSupply', 'days supply must be a whole number of days, 1 or more');
  }
  if (content.daysSupply > limit.maxDaysSupply) {
    throw invalid('daysSupply', `at most ${String(limit.maxDaysSupply)} days for this schedule`);
  }
  if (!(content.quantity.value > 0) || content.quantity.value > limit.maxQuantity) {
    throw invalid('quantity', 'quantity out of range for this schedule');
  }
  if (content.sig.trim() === '') throw invalid('sig', 'directions are required');
  if (content.diagnosis !== undefined && !ICD10_RE.test(content.diagnosis.code)) {
    throw invalid('diagnosis', 'diagnosis must be an ICD-10-CM code (e.g. M54.5)');
  }
  if (!NCPDP_RE.test(content.pharmacyNcpdpId)) {
    throw invalid('pharmacyNcpdpId', 'pharmacy must be a 7-digit NCPDP provider id');
  }
  if (content.earliestFillDate !== undefined && !isIsoDate(content.earliestFillDate)) {
    throw invalid('earliestFillDate', 'earliest fill date must be YYYY-MM-DD');
  }
  if (!/^[A-Z]{2}$/.test(content.practice.state)) {
    throw invalid('practice.state', 'practice state must be a two-letter code');
  }
}

/** One Schedule II prescription of a series for the same patient and drug. */
export interface SeriesItem {
  readonly id: string;
  readonly daysSupply: number;
  /** Earliest fill date, or the issue date when the prescription may be filled at once. */
  readonly earliestFillDate: string | undefined;
  readonly issuedOn: string;
}

const DAY_MS = 86_400_000;

function dayNumber(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

/**
 * 21 CFR 1306.12(b): several Schedule II prescriptions for the same patient and drug may be issued
 * together only if every one but the first names the earliest date it may be filled, and
 * together they cover at most a 90-day supply. `others` are the active (not cancelled)
 * prescriptions of the same prescriber, patient and drug issued the same day (one visit's series).
 */
export function checkScheduleIiSeries(current: SeriesItem, others: readonly SeriesItem[]): void {
  if (others.length === 0) return;
  const series = [current, ...others].map((p) => ({
    ...p,
    start: dayNumber(p.earliestFillDate ?? p.issuedOn),
  }));
  series.sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
  const immediate = series.filter((p) => p.earliestFillDate === undefined);
  if (
    immediate.length > 1 ||
    (current.earliestFillDate === undefined && series[0] !== immediate[0])
  ) {
    throw invalid(
      'earliestFillDate',
      'each Schedule II prescription after the first in a series needs an earliest fill date (21 CFR 1306.12(b))',
    );
  }
  const total = series.reduce((n, p) => n + p.daysSupply, 0);
  const first = series[0];
  const last = series[series.length - 1];
  if (first === undefined || last === undefined) return;
  const span = last.start + last.daysSupply - first.start;
  if (total > 90 || span > 90) {
    throw invalid(
      'daysSupply',
      'multiple Schedule II prescriptions may cover at most a 90-day supply (21 CFR 1306.12(b))',
    );
  }
  for (let i = 1; i < series.length; i++) {
    const prev = series[i - 1];
    const cur = series[i];
    if (prev !== undefined && cur !== undefined && cur.start < prev.start + prev.daysSupply) {
      throw invalid('earliestFillDate', 'earliest fill dates of a series must not overlap');
    }
  }
}

/** What 21 CFR 1306.05(a) requires to be on the prescription, as known when it is checked. */
export interface RequiredElements {
  readonly patientName: string;
  readonly patientAddress: string;
  readonly prescriberName: string;
  readonly content: PrescriptionContent;
}

/**
 * The names of the 1306.05(a) elements that are missing (controlled substances: patient full
 * name and address, drug name, strength, dosage form, quantity, directions, prescriber name,
 * address and DEA number). Non-controlled prescriptions need all but the DEA number and the
 * patient address.
 */
export function missingElements(e: RequiredElements): string[] {
  const controlled = e.content.drug.deaSchedule !== null;
  const c = e.content;
  const blank = (s: string | undefined): boolean => s === undefined || s.trim() === '';
  const checks: [string, boolean][] = [
    ['patient.name', blank(e.patientName)],
    ['patient.address', controlled && blank(e.patientAddress)],
    ['drug.name', blank(c.drug.name)],
    ['drug.strength', blank(c.drug.strength)],
    ['drug.doseForm', blank(c.drug.doseForm)],
    ['quantity', !(c.quantity.value > 0) || blank(c.quantity.unit)],
    ['sig', blank(c.sig)],
    ['prescriber.name', blank(e.prescriberName)],
    ['prescriber.address', blank(c.practice.line) || blank(c.practice.city)],
    ['prescriber.deaNumber', controlled && blank(c.deaNumber)],
  ];
  return checks.filter(([, missing]) => missing).map(([name]) => name);
}

/**
 * The elements of 21 CFR 1311.120(b)(9) a prescriber reviews before signing a controlled
 * substance (besides patient and prescriber identity, which do not change on the prescription).
 * Changing any of them after "ready" sends the prescription back to draft for a new review.
 */
export function deaElementsChanged(a: PrescriptionContent, b: PrescriptionContent): boolean {
  const pick = (c: PrescriptionContent): unknown => [
    c.drug.rxcui,
    c.drug.name,
    c.drug.strength,
    c.drug.doseForm,
    c.quantity.value,
    c.quantity.unit,
    c.sig,
    c.refills,
    c.earliestFillDate ?? null,
    c.deaNumber ?? null,
    c.practice.line,
    c.practice.city,
    c.practice.state,
    c.practice.postalCode,
    c.practice.name ?? null,
  ];
  return JSON.stringify(pick(a)) !== JSON.stringify(pick(b));
}
