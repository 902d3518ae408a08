/**
 * Draft individual notice of a breach (45 CFR 164.404(c)): a plain-language letter template with
 * every required element, filled with the entity-level facts of the assessment. The individual's
 * name and address stay placeholders (`{{recipient_name}}`, ...) for the mail merge outside Scrip,
 * so the draft never holds (and no log or audit record ever sees) an individual's PHI.
 *
 * 164.404(c)(1) elements:
 *  (A) what happened, with the date of the breach and the date of discovery, if known;
 *  (B) the types of unsecured PHI involved;
 *  (C) steps individuals should take to protect themselves;
 *  (D) what the entity is doing to investigate, mitigate harm and protect against further breaches;
 *  (E) contact procedures, which include a toll-free telephone number, an e-mail address, Web
 *      site, or postal address.
 */
import { AppError } from '../core/index.js';

/** Kinds of PHI a breach may involve (164.404(c)(1)(B) examples and e-prescribing data). */
export const PHI_TYPES = {
  full_name: 'full name',
  home_address: 'home address',
  date_of_birth: 'date of birth',
  ssn: 'Social Security number',
  phone_or_email: 'telephone number or e-mail address',
  medical_record_number: 'medical record number',
  health_plan_id: 'health plan or insurance member number',
  account_number: 'account number',
  diagnosis: 'diagnosis or condition',
  medications: 'medications and prescription details',
  controlled_substances: 'controlled-substance prescription details',
  prescriber_details: 'prescriber and pharmacy details',
  lab_results: 'laboratory results',
  disability_code: 'disability code',
  drivers_license: "driver's licence or state ID number",
  financial: 'payment card or bank account information',
  other: 'other health information',
} as const;
export type PhiType = keyof typeof PHI_TYPES;
export const PHI_TYPE_KEYS = Object.keys(PHI_TYPES) as PhiType[];

/** The placeholders the mail merge fills in per individual. */
export const LETTER_PLACEHOLDERS = [
  '{{letter_date}}',
  '{{recipient_name}}',
  '{{recipient_address}}',
] as const;

/** The entity-level content of the notice, recorded with the breach assessment. */
export interface NoticeContent {
  /** (A) What happened, in plain language (no individual's data). */
  readonly whatHappened: string;
  /** (C) Steps individuals should take. */
  readonly stepsIndividualsShouldTake: string;
  /** (D) What the entity is doing. */
  readonly whatWeAreDoing: string;
  /** (E) Contact procedures: a toll-free number and at least one other channel. */
  readonly contact: {
    readonly tollFreeNumber: string;
    readonly email?: string;
    readonly website?: string;
    readonly postalAddress?: string;
  };
}

export interface LetterFacts {
  readonly organisation: string;
  readonly occurredFrom: string | null;
  readonly occurredTo: string | null;
  readonly discoveredOn: string;
  readonly phiTypes: readonly PhiType[];
  readonly notice: NoticeContent | null;
}

export interface DraftLetter {
  readonly subject: string;
  readonly body: string;
  readonly placeholders: readonly string[];
  /** Which 164.404(c)(1) element each part of the body satisfies. */
  readonly elements: readonly { readonly element: string; readonly citation: string }[];
}

/** US toll-free prefixes (800, 833, 844, 855, 866, 877, 888), any common punctuation. */
const TOLL_FREE_RE = /^(\+?1[\s.-]?)?\(?8(00|33|44|55|66|77|88)\)?[\s.-]?\d{3}[\s.-]?\d{4}$/;

/** The elements missing from `facts` for a complete 164.404(c) notice (empty when complete). */
export function missingElements(facts: LetterFacts): string[] {
  const n = facts.notice;
  const missing: string[] = [];
  if (n === null || n.whatHappened.trim() === '') missing.push('whatHappened');
  if (facts.phiTypes.length === 0) missing.push('phiTypes');
  if (n === null || n.stepsIndividualsShouldTake.trim() === '') {
    missing.push('stepsIndividualsShouldTake');
  }
  if (n === null || n.whatWeAreDoing.trim() === '') missing.push('whatWeAreDoing');
  if (n === null || !TOLL_FREE_RE.test(n.contact.tollFreeNumber.trim())) {
    missing.push('contact.tollFreeNumber');
  }
  const other = [n?.contact.email, n?.contact.website, n?.contact.postalAddress].filter(
    (v) => v !== undefined && v.trim() !== '',
  );
  if (other.length === 0) missing.push('contact.emailWebsiteOrPostalAddress');
  return missing;
}

/** Checks one text of the notice: no placeholder syntax, so no input can pose as a merge field. */
export function checkNoticeText(field: string, value: string, max: number): string {
  const v = value.trim();
  if (v.length > max) {
    throw new AppError('validation_failed', `${field} is longer than ${String(max)} characters`, {
      detail: field,
    });
  }
  if (v.includes('{{') || v.includes('}}')) {
    throw new AppError('validation_failed', `${field} may not contain {{ or }}`, { detail: field });
  }
  return v;
}

function when(facts: LetterFacts): string {
  const { occurredFrom: from, occurredTo: to, discoveredOn } = facts;
  const occurred =
    from === null
      ? 'We do not know the exact date of the breach.'
      : to === null || to === from
        ? `The breach occurred on ${from}.`
        : `The breach occurred between ${from} and ${to}.`;
  return `${occurred} We discovered it on ${discoveredOn}.`;
}

/** The draft letter, or `conflict` naming the first missing 164.404(c) element. */
export function draftBreachLetter(facts: LetterFacts): DraftLetter {
  const missing = missingElements(facts);
  const n = facts.notice;
  if (missing.length > 0 || n === null) {
    throw new AppError(
      'conflict',
      `the notice is missing required content: ${missing.join(', ')}`,
      { detail: missing[0] ?? 'notice' },
    );
  }
  const phi = facts.phiTypes.map((t) => PHI_TYPES[t]);
  const channels = [
    n.contact.email === undefined || n.contact.email.trim() === ''
      ? null
      : `e-mail us at ${n.contact.email.trim()}`,
    n.contact.website === undefined || n.contact.website.trim() === ''
      ? null
      : `visit ${n.contact.website.trim()}`,
    n.contact.postalAddress === undefined || n.contact.postalAddress.trim() === ''
      ? null
      : `write to us at ${n.contact.postalAddress.trim()}`,
  ].filter((c): c is string => c !== null);
  const subject = `Notice of a breach of your health information (${facts.organisation})`;
  const body = [
    '{{letter_date}}',
    '',
    '{{recipient_name}}',
    '{{recipient_address}}',
    '',
    `Dear {{recipient_name}},`,
    '',
    `We are writing to tell you about an incident at ${facts.organisation} that involved some of your health information.`,
    '',
    'What happened',
    `${n.whatHappened} ${when(facts)}`,
    '',
    'What information was involved',
    `The information involved was: ${phi.join('; ')}.`,
    '',
    'What you can do',
    n.stepsIndividualsShouldTake,
    '',
    'What we are doing',
    n.whatWeAreDoing,
    '',
    'For more information',
    `Call us toll-free at ${n.contact.tollFreeNumber.trim()}. You can also ${channels.join(', or ')}.`,
    '',
    'Sincerely,',
    facts.organisation,
    '',
  ].join('\n');
  return {
    subject,
    body,
    placeholders: LETTER_PLACEHOLDERS,
    elements: [
      {
        element: 'what happened, with the dates of breach and discovery',
        citation: '45 CFR 164.404(c)(1)(A)',
      },
      { element: 'types of unsecured PHI involved', citation: '45 CFR 164.404(c)(1)(B)' },
      { element: 'steps individuals should take', citation: '45 CFR 164.404(c)(1)(C)' },
      { element: 'what the entity is doing', citation: '45 CFR 164.404(c)(1)(D)' },
      {
        element: 'contact procedures with a toll-free number',
        citation: '45 CFR 164.404(c)(1)(E)',
      },
    ],
  };
}
