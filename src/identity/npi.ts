/**
 * National Provider Identifier (45 CFR 162.406) format and check-digit validation, per CMS
 * "Requirements for National Provider Identifier (NPI) and NPI Enumerator: Check Digit": the ISO
 * standard Luhn formula (ISO/IEC 7812) over the 9-digit base as if prefixed by the card issuer
 * prefix 80840 (80 = health, 840 = USA). Without the prefix, the constant 24 is added to the sum.
 *
 * A pass only means the number is well formed; whether it is issued and belongs to the prescriber
 * is a lookup in the NPPES registry, which this module does not do.
 */
import { AppError } from '../core/index.js';

/** Stable reasons an NPI is refused. */
export type NpiReason = 'format' | 'prefix' | 'check_digit';

/** Sum contributed by the implied 80840 prefix under Luhn doubling (CMS check-digit text). */
const PREFIX_80840_SUM = 24;

/**
 * The check digit for a 9-digit NPI base: double every other digit starting from the rightmost,
 * sum the digits of the products and the undoubled digits, add 24, and take the distance to the
 * next multiple of ten.
 */
export function npiCheckDigit(base9: string): number {
  if (!/^[0-9]{9}$/.test(base9)) throw new TypeError('NPI base must be 9 ASCII digits');
  let sum = PREFIX_80840_SUM;
  for (let i = 0; i < 9; i++) {
    let digit = base9.charCodeAt(8 - i) - 48;
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9; // sum of the two digits of 10..18
    }
    sum += digit;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Validates an NPI: exactly 10 ASCII digits, first digit 1 or 2 (the ranges CMS enumerates), and
 * the Luhn check digit above. Returns the reasons it fails (empty when valid); only the first
 * failing check is reported because later checks are meaningless on a malformed value.
 */
export function validateNpi(value: string): readonly NpiReason[] {
  if (!/^[0-9]{10}$/.test(value)) return ['format'];
  if (value[0] !== '1' && value[0] !== '2') return ['prefix'];
  if (npiCheckDigit(value.slice(0, 9)) !== Number(value[9])) return ['check_digit'];
  return [];
}

/** True when {@link validateNpi} finds nothing wrong. */
export function isValidNpi(value: string): boolean {
  return validateNpi(value).length === 0;
}

/** Throws `validation_failed` (detail `npi:<reason>`) unless the NPI is well formed. */
export function assertValidNpi(value: string): void {
  const [reason] = validateNpi(value);
  if (reason !== undefined) {
    throw new AppError('validation_failed', 'invalid NPI', { detail: `npi:${reason}` });
  }
}
