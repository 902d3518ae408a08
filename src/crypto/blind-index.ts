/**
 * Blind indexes: deterministic HMAC-SHA-256 (RFC 2104, FIPS 198-1) tags of normalised PHI so that
 * equality search works on encrypted columns without decrypting them.
 *
 * - Keyed with a per-tenant index key that is separate from the data key (so an index never helps
 *   decrypt, and tenants' indexes of the same value are unrelated).
 * - Domain separation: the MAC input starts with `scrip:bi:v1:<kind>\0`, so a last-name index can
 *   never equal an MRN index of some other string. Tenant id and each value follow length-prefixed.
 * - Output: the full 32-byte MAC, base64url without padding (43 characters). Truncating (as
 *   CipherSweet does to blur frequencies) would add false positives that every search must filter
 *   by decrypting; the full length keeps false positives negligible (2^-128 birthday bound), and
 *   frequency leakage is instead limited by indexing only the fields search needs.
 *
 * Normalisation makes the index match what a clerk would consider "the same" value; it is part of
 * the index format, so any change to it needs a new `v` and a re-index.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { AppError } from '../core/index.js';
import { decodeBase64UrlStrict, lengthPrefixed, utf8Strict } from './encoding.js';

/** Index kinds; each has its own domain-separation prefix. */
export type BlindIndexKind = 'last-name' | 'dob' | 'mrn' | 'us-phone' | 'last-name-dob';

/** A tenant's blind-index key: 32 bytes or a 32-byte secret KeyObject, never the data key. */
export interface BlindIndexKey {
  readonly tenantId: string;
  readonly key: Uint8Array | KeyObject;
}

const INDEX_KEY_BYTES = 32;
const INDEX_BYTES = 32;

function invalid(field: string, message: string): AppError {
  // The detail names the field only; the value is PHI and stays out of errors.
  return new AppError('validation_failed', message, { detail: field });
}

function utf8Check(input: string, field: string): string {
  try {
    utf8Strict(input, field);
  } catch {
    throw invalid(field, `${field} is not well-formed Unicode`);
  }
  return input;
}

/** Letters and digits only, with combining marks (diacritics) removed: NFD, then drop non-L/N. */
function lettersAndDigits(text: string): string {
  return text.normalize('NFD').replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * Last name: Unicode NFKC (UAX #15); diacritics removed (NFD, drop General_Category M); everything
 * but letters and digits removed (spaces, hyphens, apostrophes, punctuation); case folding
 * approximated by upper- then lower-casing plus final sigma → sigma (Unicode CaseFolding.txt), so
 * "ß"/"SS" and "ς"/"Σ" meet; marks that casing introduces are dropped again; then NFC.
 * Punctuation goes before casing so word-final rules cannot depend on removed spaces.
 * "O'Brien-Müller" → "obrienmuller".
 *
 * @throws AppError `validation_failed` when nothing is left.
 */
export function normalizeLastName(input: string): string {
  if (typeof input !== 'string') throw new TypeError('last name must be a string');
  const bare = lettersAndDigits(utf8Check(input, 'lastName').normalize('NFKC'));
  const folded = bare
    .toUpperCase()
    .toLowerCase()
    .replace(/\u03c2/g, '\u03c3');
  const out = lettersAndDigits(folded).normalize('NFC');
  if (out.length === 0) throw invalid('lastName', 'last name is empty after normalisation');
  return out;
}

const DOB_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Date of birth as ISO 8601 calendar date `YYYY-MM-DD` (surrounding whitespace trimmed), checked
 * to be a real proleptic Gregorian date with a year from 1800 to 9999.
 *
 * @throws AppError `validation_failed` otherwise.
 */
export function normalizeDob(input: string): string {
  if (typeof input !== 'string') throw new TypeError('date of birth must be a string');
  const trimmed = input.trim();
  const match = DOB_RE.exec(trimmed);
  if (match === null) throw invalid('dob', 'date of birth must be YYYY-MM-DD');
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (
    year < 1800 ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    throw invalid('dob', 'date of birth is not a valid calendar date');
  }
  return trimmed;
}

/**
 * Medical record number: NFKC (full-width digits become ASCII), trimmed, upper-cased.
 *
 * @throws AppError `validation_failed` when empty.
 */
export function normalizeMrn(input: string): string {
  if (typeof input !== 'string') throw new TypeError('MRN must be a string');
  const out = utf8Check(input, 'mrn').normalize('NFKC').trim().toUpperCase();
  if (out.length === 0) throw invalid('mrn', 'MRN is empty');
  return out;
}

/**
 * US (NANP) phone number: NFKC, digits only, an 11-digit number starting with country code 1
 * loses it; the result must be exactly 10 digits. "+1 (555) 010-0199" → "5550100199".
 *
 * @throws AppError `validation_failed` otherwise (extensions are not part of the index).
 */
export function normalizeUsPhone(input: string): string {
  if (typeof input !== 'string') throw new TypeError('phone must be a string');
  let digits = utf8Check(input, 'phone')
    .normalize('NFKC')
    .replace(/[^0-9]/g, '');
  if (digits.length === 11 && digits.startsWith('1')) digits = digits.slice(1);
  if (digits.length !== 10) throw invalid('phone', 'US phone number must have 10 digits');
  return digits;
}

function assertIndexKey(indexKey: BlindIndexKey): void {
  const { key, tenantId } = indexKey;
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw new TypeError('blind index key needs a tenantId');
  }
  const size = key instanceof Uint8Array ? key.byteLength : key.symmetricKeySize;
  if ((!(key instanceof Uint8Array) && key.type !== 'secret') || size !== INDEX_KEY_BYTES) {
    throw new TypeError('blind index key must be 32 secret bytes');
  }
}

/**
 * HMAC-SHA-256 over `"scrip:bi:v1:" ‖ kind ‖ 0x00 ‖ lp(tenantId) ‖ lp(part)…` where
 * `lp(x) = u32be(len(UTF-8 x)) ‖ UTF-8 x`. Parts must already be normalised; prefer the typed
 * helpers below, which normalise first.
 *
 * @returns 43-character base64url of the full 32-byte MAC.
 */
export function computeBlindIndex(
  indexKey: BlindIndexKey,
  kind: BlindIndexKind,
  normalizedParts: readonly string[],
): string {
  assertIndexKey(indexKey);
  if (normalizedParts.length === 0) throw new TypeError('blind index needs at least one part');
  const prefix = Buffer.from(`scrip:bi:v1:${kind}\0`, 'utf8');
  const framed = lengthPrefixed([
    utf8Strict(indexKey.tenantId, 'tenantId'),
    ...normalizedParts.map((p) => utf8Strict(p, 'blind index part')),
  ]);
  return createHmac('sha256', indexKey.key).update(prefix).update(framed).digest('base64url');
}

/** Blind index of a last name ({@link normalizeLastName}). */
export function lastNameIndex(indexKey: BlindIndexKey, lastName: string): string {
  return computeBlindIndex(indexKey, 'last-name', [normalizeLastName(lastName)]);
}

/** Blind index of a date of birth ({@link normalizeDob}). */
export function dobIndex(indexKey: BlindIndexKey, dob: string): string {
  return computeBlindIndex(indexKey, 'dob', [normalizeDob(dob)]);
}

/** Blind index of an MRN ({@link normalizeMrn}). */
export function mrnIndex(indexKey: BlindIndexKey, mrn: string): string {
  return computeBlindIndex(indexKey, 'mrn', [normalizeMrn(mrn)]);
}

/** Blind index of a US phone number ({@link normalizeUsPhone}). */
export function usPhoneIndex(indexKey: BlindIndexKey, phone: string): string {
  return computeBlindIndex(indexKey, 'us-phone', [normalizeUsPhone(phone)]);
}

/**
 * Combined index of last name and date of birth: the usual patient-lookup key. One MAC over both
 * parts, so it reveals less than the two separate indexes side by side would.
 */
export function lastNameDobIndex(indexKey: BlindIndexKey, lastName: string, dob: string): string {
  return computeBlindIndex(indexKey, 'last-name-dob', [
    normalizeLastName(lastName),
    normalizeDob(dob),
  ]);
}

/**
 * Compares two blind indexes in constant time (node:crypto `timingSafeEqual`), for code paths
 * that check a presented index against a stored one outside SQL. Malformed input is unequal.
 */
export function blindIndexEquals(a: string, b: string): boolean {
  const left = decodeBase64UrlStrict(a);
  const right = decodeBase64UrlStrict(b);
  if (left === undefined || right === undefined) return false;
  if (left.byteLength !== INDEX_BYTES || right.byteLength !== INDEX_BYTES) return false;
  return timingSafeEqual(left, right);
}
