/**
 * The HIPAA breach notification clock, as pure functions of the facts and a date (tests freeze
 * the Clock; nothing here reads time).
 *
 * From the discovery date (45 CFR 164.404(a)(2): the first day the breach is known, or would have
 * been known with reasonable diligence), for a covered entity:
 * - individuals: without unreasonable delay and in no case later than 60 calendar days
 *   (164.404(b)). 60 days is the outer limit, not a target;
 * - the Secretary (HHS): 500 or more individuals, contemporaneously with the individual notices,
 *   so the same 60-day limit (164.408(b)); fewer than 500, in the annual log, not later than 60
 *   days after the end of the calendar year in which the breach was discovered (164.408(c));
 * - prominent media outlets: more than 500 residents of one State or jurisdiction, per
 *   jurisdiction, within the same 60 days (164.406(a)-(b)); exactly 500 is not "more than 500";
 * and for a business associate: notice to the covered entity within 60 calendar days (164.410(b)).
 *
 * Not modelled: the law-enforcement delay of 164.412 and substitute notice (164.404(d)(2)); a
 * person records those decisions on the incident timeline.
 */
import { addDays, daysBetween, endOfYear } from './dates.js';

/** US States, DC and the territories: the "State or jurisdiction" of 164.406. */
export const JURISDICTIONS = [
  'AL', 'AK', 'AZ', 'AR', 'CA', 'CO', 'CT', 'DE', 'FL', 'GA', 'HI', 'ID', 'IL', 'IN', 'IA', 'KS',
  'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY',
  'NC', 'ND', 'OH', 'OK', 'OR', 'PA', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VA', 'WA', 'WV',
  'WI', 'WY', 'DC', 'PR', 'GU', 'VI', 'AS', 'MP',
] as const; // prettier-ignore
/** Affected individuals whose State of residence is not known (they count toward the total). */
export const UNKNOWN_JURISDICTION = 'unknown';

const JURISDICTION_SET: ReadonlySet<string> = new Set([...JURISDICTIONS, UNKNOWN_JURISDICTION]);

export function isJurisdiction(value: string): boolean {
  return JURISDICTION_SET.has(value);
}

/** 164.404(b), 164.406(b), 164.408(b), 164.410(b): 60 calendar days after discovery. */
export const OUTER_LIMIT_DAYS = 60;
/** 164.408(b): "500 or more individuals" goes to HHS with the individual notices. */
export const HHS_IMMEDIATE_THRESHOLD = 500;
/** 164.406(a): media notice when "more than 500 residents" of one State or jurisdiction. */
export const MEDIA_THRESHOLD = 500;
/** Countdown steps: an alert when this many days (or fewer) are left, once per step. */
export const COUNTDOWN_DAYS: readonly number[] = [30, 14, 7, 1];

export type BreachRole = 'covered_entity' | 'business_associate';
export type NoticeRecipient = 'individuals' | 'hhs' | 'media' | 'covered_entity';

export interface BreachFacts {
  /** YYYY-MM-DD: the day the breach was discovered (164.404(a)(2), 164.410(a)(2)). */
  readonly discoveredOn: string;
  /** Whether we are the covered entity or a business associate of one. */
  readonly role: BreachRole;
  /** Affected individuals per State or jurisdiction (and `unknown`). */
  readonly affectedByJurisdiction: Readonly<Record<string, number>>;
}

export interface NoticeDeadline {
  readonly recipient: NoticeRecipient;
  /** The State or jurisdiction, for media notices only. */
  readonly jurisdiction: string | null;
  /** The last permitted day (inclusive). */
  readonly dueOn: string;
  readonly citation: string;
  /** What the deadline is, in words, for people. */
  readonly basis: string;
}

/** Total affected individuals. */
export function affectedTotal(facts: Pick<BreachFacts, 'affectedByJurisdiction'>): number {
  return Object.values(facts.affectedByJurisdiction).reduce((a, b) => a + b, 0);
}

/** The jurisdictions with more than 500 affected residents (164.406), sorted. */
export function mediaJurisdictions(facts: Pick<BreachFacts, 'affectedByJurisdiction'>): string[] {
  return Object.entries(facts.affectedByJurisdiction)
    .filter(([j, n]) => j !== UNKNOWN_JURISDICTION && n > MEDIA_THRESHOLD)
    .map(([j]) => j)
    .sort();
}

/** Every notice the facts require, with its last permitted day. */
export function noticeDeadlines(facts: BreachFacts): NoticeDeadline[] {
  const limit = addDays(facts.discoveredOn, OUTER_LIMIT_DAYS);
  if (facts.role === 'business_associate') {
    return [
      {
        recipient: 'covered_entity',
        jurisdiction: null,
        dueOn: limit,
        citation: '45 CFR 164.410(b)',
        basis: 'notify the covered entity without unreasonable delay, within 60 days of discovery',
      },
    ];
  }
  const total = affectedTotal(facts);
  const out: NoticeDeadline[] = [
    {
      recipient: 'individuals',
      jurisdiction: null,
      dueOn: limit,
      citation: '45 CFR 164.404(b)',
      basis: 'notify each individual without unreasonable delay, within 60 days of discovery',
    },
    total >= HHS_IMMEDIATE_THRESHOLD
      ? {
          recipient: 'hhs',
          jurisdiction: null,
          dueOn: limit,
          citation: '45 CFR 164.408(b)',
          basis: '500 or more affected: notify HHS together with the individual notices',
        }
      : {
          recipient: 'hhs',
          jurisdiction: null,
          dueOn: addDays(endOfYear(facts.discoveredOn), OUTER_LIMIT_DAYS),
          citation: '45 CFR 164.408(c)',
          basis:
            'fewer than 500 affected: log it and report to HHS within 60 days after the end of the calendar year of discovery',
        },
  ];
  for (const j of mediaJurisdictions(facts)) {
    out.push({
      recipient: 'media',
      jurisdiction: j,
      dueOn: limit,
      citation: '45 CFR 164.406(b)',
      basis: `more than 500 residents of ${j} affected: notify prominent media outlets serving ${j} within 60 days of discovery`,
    });
  }
  return out;
}

/** A notice that was sent (recorded on the incident). */
export interface SentNotice {
  readonly recipient: NoticeRecipient;
  readonly jurisdiction: string | null;
  readonly sentOn: string;
}

export type DeadlineState = 'pending' | 'overdue' | 'met' | 'met_late';

export interface DeadlineStatus extends NoticeDeadline {
  /** Days from `today` to the due date (0 on the last day, negative once passed). */
  readonly daysLeft: number;
  readonly state: DeadlineState;
  /** The earliest recorded notice for this deadline, if any. */
  readonly sentOn: string | null;
}

/** Each deadline against the notices sent so far, as of `today`. */
export function deadlineStatus(
  deadlines: readonly NoticeDeadline[],
  sent: readonly SentNotice[],
  today: string,
): DeadlineStatus[] {
  return deadlines.map((d) => {
    const matching = sent
      .filter((s) => s.recipient === d.recipient && s.jurisdiction === d.jurisdiction)
      .map((s) => s.sentOn)
      .sort();
    const sentOn = matching[0] ?? null;
    const daysLeft = daysBetween(today, d.dueOn);
    const state: DeadlineState =
      sentOn !== null
        ? sentOn <= d.dueOn
          ? 'met'
          : 'met_late'
        : daysLeft < 0
          ? 'overdue'
          : 'pending';
    return { ...d, daysLeft, state, sentOn };
  });
}

/** The countdown step a deadline has reached: the smallest step ≥ daysLeft, or `overdue`. */
export type CountdownStep = number | 'overdue';

export function countdownStep(
  daysLeft: number,
  steps: readonly number[] = COUNTDOWN_DAYS,
): CountdownStep | null {
  if (daysLeft < 0) return 'overdue';
  const reached = steps.filter((s) => daysLeft <= s);
  return reached.length === 0 ? null : Math.min(...reached);
}

/**
 * The dedup key of one deadline's countdown step (unique within one incident). The due date is
 * part of it: a reassessment that moves the discovery date starts the countdown afresh.
 */
export function countdownKey(d: NoticeDeadline, step: CountdownStep): string {
  return `${d.recipient}:${d.jurisdiction ?? '-'}:${d.dueOn}:${String(step)}`;
}

export interface CountdownAlert {
  readonly key: string;
  readonly deadline: DeadlineStatus;
  readonly step: CountdownStep;
}

/**
 * The countdown alerts due now that were not raised before (`raised` holds earlier keys). Only
 * the step a deadline is at fires: a check that first runs with 5 days left raises the 7-day step,
 * never 30 and 14 as well, and a step once raised never fires again. Met deadlines are silent.
 */
export function dueCountdownAlerts(
  statuses: readonly DeadlineStatus[],
  raised: ReadonlySet<string>,
  steps: readonly number[] = COUNTDOWN_DAYS,
): CountdownAlert[] {
  const out: CountdownAlert[] = [];
  for (const d of statuses) {
    if (d.state === 'met' || d.state === 'met_late') continue;
    const step = countdownStep(d.daysLeft, steps);
    if (step === null) continue;
    const key = countdownKey(d, step);
    if (!raised.has(key)) out.push({ key, deadline: d, step });
  }
  return out;
}
