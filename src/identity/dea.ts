/**
 * DEA registration number screening. A controlled-substance prescription must carry the
 * prescriber's DEA registration number (21 CFR 1306.05(a)); registration itself is governed by
 * 21 CFR 1301.11–1301.13. DEA does not publish the number format as a specification; the check
 * below is the one used throughout the industry: two letters and seven digits, with
 * `(d1 + d3 + d5) + 2·(d2 + d4 + d6) ≡ d7 (mod 10)`.
 *
 * Passing this check only means the number is well formed. Whether it is active, unexpired and
 * covers the drug's schedule must come from DEA's registration data (CSA database), which EPCS
 * logical access control relies on (21 CFR 1311.125, 1311.130).
 */
import { AppError } from '../core/index.js';

/** Stable reasons a DEA number is refused. */
export type DeaReason = 'format' | 'registrant_type' | 'check_digit' | 'name_mismatch';

/**
 * First letters accepted. DEA's record layout lists A/B/F/G (practitioner, hospital/clinic,
 * pharmacy, teaching institution; B, F, G were opened as earlier letters ran out), M (mid-level
 * practitioner), P/R (manufacturer, distributor, researcher, analytical lab, importer, exporter,
 * reverse distributor, narcotic treatment program) and X (the former DATA-waiver buprenorphine
 * identifier). Letters C, D, E, H, J, K, L, S, T, U appear as business-activity codes and in
 * secondary lists; they are accepted so that a screen never refuses a real registrant (a false
 * accept is caught by the CSA lookup, a false refusal blocks a prescriber).
 */
export const DEA_REGISTRANT_TYPES: ReadonlySet<string> = new Set([
  'A',
  'B',
  'C',
  'D',
  'E',
  'F',
  'G',
  'H',
  'J',
  'K',
  'L',
  'M',
  'P',
  'R',
  'S',
  'T',
  'U',
  'X',
]);

export interface DeaContext {
  /**
   * The registrant's last name (or business name). When given, the second letter must be its
   * first letter, or `9` (used for registrants identified by business address, not by name).
   */
  readonly lastName?: string;
}

/** The check digit for the first six digits of a DEA number (ones place of the weighted sum). */
export function deaCheckDigit(digits6: string): number {
  if (!/^[0-9]{6}$/.test(digits6)) throw new TypeError('DEA digits must be 6 ASCII digits');
  const d = Array.from(digits6, (c) => c.charCodeAt(0) - 48) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10;
}

/** The first A–Z letter of a name after NFKD folding (so "Émile" gives "E"), if any. */
function initialOf(name: string): string | undefined {
  const folded = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase();
  return /[A-Z]/.exec(folded)?.[0];
}

/**
 * Validates a DEA registration number (upper or lower case; no spaces, no institutional suffix
 * such as `-001AB`). Returns every reason that applies once the format is right (empty when
 * valid); a malformed value returns only `format`.
 */
export function validateDea(value: string, context: DeaContext = {}): readonly DeaReason[] {
  // Shape first, on the raw text: toUpperCase maps some non-ASCII letters to ASCII ('ſ' to 'S').
  if (!/^[A-Za-z][A-Za-z9][0-9]{7}$/.test(value)) return ['format'];
  const upper = value.toUpperCase();
  const reasons: DeaReason[] = [];
  if (!DEA_REGISTRANT_TYPES.has(upper.charAt(0))) reasons.push('registrant_type');
  if (deaCheckDigit(upper.slice(2, 8)) !== Number(upper.charAt(8))) reasons.push('check_digit');
  if (context.lastName !== undefined) {
    const second = upper.charAt(1);
    if (second !== '9' && initialOf(context.lastName) !== second) reasons.push('name_mismatch');
  }
  return reasons;
}

/** True when {@link validateDea} finds nothing wrong. */
export function isValidDea(value: string, context: DeaContext = {}): boolean {
  return validateDea(value, context).length === 0;
}

/** Throws `validation_failed` (detail `dea:<reasons>`) unless the DEA number passes. */
export function assertValidDea(value: string, context: DeaContext = {}): void {
  const reasons = validateDea(value, context);
  if (reasons.length > 0) {
    throw new AppError('validation_failed', 'invalid DEA registration number', {
      detail: `dea:${reasons.join(',')}`,
    });
  }
}
