/**
 * The breach risk assessment (45 CFR 164.402): the four factors of 164.402(2) with their ratings
 * and rationales, the decision (breach, an exception of 164.402(1), or a low probability of
 * compromise), and the facts the clock and the notice letter need. Pure checks, no database.
 */
import { AppError } from '../core/index.js';
import { isJurisdiction, type BreachRole, type SentNotice } from './breach-clock.js';
import {
  PHI_TYPE_KEYS,
  checkNoticeText,
  type NoticeContent,
  type PhiType,
} from './breach-letter.js';
import { checkDate } from './dates.js';
import { checkInt, checkOneOf, checkText } from './program-common.js';

/** The four factors of 164.402(2)(i)-(iv). */
export const BREACH_FACTORS = {
  natureAndExtent:
    '45 CFR 164.402(2)(i): nature and extent of the PHI, identifiers, likelihood of re-identification',
  unauthorizedPerson: '45 CFR 164.402(2)(ii): the unauthorized person who used or received the PHI',
  acquiredOrViewed: '45 CFR 164.402(2)(iii): whether the PHI was actually acquired or viewed',
  mitigation: '45 CFR 164.402(2)(iv): the extent to which the risk to the PHI has been mitigated',
} as const;
export type BreachFactor = keyof typeof BREACH_FACTORS;
export const BREACH_FACTOR_KEYS = Object.keys(BREACH_FACTORS) as BreachFactor[];
/** The risk of compromise each factor indicates. */
export const FACTOR_RATINGS = ['low', 'moderate', 'high'] as const;
export type FactorRating = (typeof FACTOR_RATINGS)[number];

export const BREACH_DECISIONS = ['breach', 'not_breach', 'low_probability'] as const;
/**
 * `breach`: notify. `low_probability`: the four factors show a low probability of compromise
 * (164.402(2)); no notice. `not_breach`: an exception applies (see {@link BREACH_EXCEPTIONS}).
 */
export type BreachDecision = (typeof BREACH_DECISIONS)[number];
/** 164.402(1)(i)-(iii), and PHI secured per the HHS guidance (not "unsecured PHI", 164.402). */
export const BREACH_EXCEPTIONS = [
  'unintentional_workforce',
  'inadvertent_authorized',
  'unable_to_retain',
  'secured_phi',
] as const;
export type BreachException = (typeof BREACH_EXCEPTIONS)[number];

export interface FactorAssessment {
  readonly rating: FactorRating;
  readonly rationale: string;
}

export interface BreachAssessmentInput {
  readonly factors: Readonly<Record<BreachFactor, FactorAssessment>>;
  readonly decision: BreachDecision;
  readonly exception: BreachException | null;
  readonly rationale: string;
  readonly role: BreachRole;
  readonly discoveredOn: string;
  readonly occurredFrom: string | null;
  readonly occurredTo: string | null;
  readonly affectedByJurisdiction: Readonly<Record<string, number>>;
  readonly phiTypes: readonly PhiType[];
  readonly notice: NoticeContent | null;
}

export interface BreachAssessment extends BreachAssessmentInput {
  readonly incidentId: string;
  readonly version: number;
  readonly affectedTotal: number;
  readonly assessedBy: string;
  readonly assessedAt: string;
}

export interface BreachNotice extends SentNotice {
  readonly id: string;
  readonly method: string;
  readonly recipientsCount: number | null;
  readonly recordedBy: string;
  readonly recordedAt: string;
}

function checkNotice(n: NoticeContent): NoticeContent {
  const opt = (field: string, v: string | undefined) =>
    v === undefined || v.trim() === ''
      ? {}
      : { [field]: checkNoticeText(`contact.${field}`, v, 300) };
  return {
    whatHappened: checkNoticeText('notice.whatHappened', n.whatHappened, 4000),
    stepsIndividualsShouldTake: checkNoticeText(
      'notice.stepsIndividualsShouldTake',
      n.stepsIndividualsShouldTake,
      4000,
    ),
    whatWeAreDoing: checkNoticeText('notice.whatWeAreDoing', n.whatWeAreDoing, 4000),
    contact: {
      tollFreeNumber: checkNoticeText('contact.tollFreeNumber', n.contact.tollFreeNumber, 40),
      ...opt('email', n.contact.email),
      ...opt('website', n.contact.website),
      ...opt('postalAddress', n.contact.postalAddress),
    },
  };
}

/** Checks an assessment against the rules above; `validation_failed` names the field. */
export function checkAssessment(
  input: BreachAssessmentInput,
  today: string,
): BreachAssessmentInput {
  const factors = {} as Record<BreachFactor, FactorAssessment>;
  for (const key of BREACH_FACTOR_KEYS) {
    const f = input.factors[key] as FactorAssessment | undefined;
    if (f === undefined) {
      throw new AppError('validation_failed', `factor ${key} is required`, {
        detail: `factors.${key}`,
      });
    }
    factors[key] = {
      rating: checkOneOf(`factors.${key}.rating`, f.rating, FACTOR_RATINGS),
      rationale: checkText(`factors.${key}.rationale`, f.rationale, 1, 4000),
    };
  }
  const decision = checkOneOf('decision', input.decision, BREACH_DECISIONS);
  const exception =
    input.exception === null ? null : checkOneOf('exception', input.exception, BREACH_EXCEPTIONS);
  if ((decision === 'not_breach') !== (exception !== null)) {
    throw new AppError(
      'validation_failed',
      'an exception is named exactly when the decision is not_breach',
      { detail: 'exception' },
    );
  }
  // The presumption of breach stands unless the factors show a low probability of compromise.
  if (
    decision === 'low_probability' &&
    BREACH_FACTOR_KEYS.some((k) => factors[k].rating === 'high')
  ) {
    throw new AppError(
      'validation_failed',
      'a factor rated high does not support a low probability of compromise',
      { detail: 'decision' },
    );
  }
  const discoveredOn = checkDate('discoveredOn', input.discoveredOn);
  if (discoveredOn > today) {
    throw new AppError('validation_failed', 'discoveredOn cannot be in the future', {
      detail: 'discoveredOn',
    });
  }
  const occurredFrom =
    input.occurredFrom === null ? null : checkDate('occurredFrom', input.occurredFrom);
  const occurredTo = input.occurredTo === null ? null : checkDate('occurredTo', input.occurredTo);
  if (occurredTo !== null && (occurredFrom === null || occurredTo < occurredFrom)) {
    throw new AppError('validation_failed', 'occurredTo needs an earlier or equal occurredFrom', {
      detail: 'occurredTo',
    });
  }
  if (occurredFrom !== null && occurredFrom > discoveredOn) {
    throw new AppError('validation_failed', 'a breach cannot be discovered before it occurred', {
      detail: 'occurredFrom',
    });
  }
  const affected: Record<string, number> = {};
  for (const [j, n] of Object.entries(input.affectedByJurisdiction)) {
    if (!isJurisdiction(j)) {
      throw new AppError('validation_failed', `unknown State or jurisdiction ${j.slice(0, 20)}`, {
        detail: 'affectedByJurisdiction',
      });
    }
    const count = checkInt('affectedByJurisdiction', n, 0, 1_000_000_000);
    if (count > 0) affected[j] = count;
  }
  const phiTypes = [...new Set(input.phiTypes)].map((t) =>
    checkOneOf('phiTypes', t, PHI_TYPE_KEYS),
  );
  return {
    factors,
    decision,
    exception,
    rationale: checkText('rationale', input.rationale, 1, 4000),
    role: checkOneOf('role', input.role, ['covered_entity', 'business_associate'] as const),
    discoveredOn,
    occurredFrom,
    occurredTo,
    affectedByJurisdiction: affected,
    phiTypes,
    notice: input.notice === null ? null : checkNotice(input.notice),
  };
}
