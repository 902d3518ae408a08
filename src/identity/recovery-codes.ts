/**
 * Single-use MFA recovery codes (NIST SP 800-63B §5.1.2 "look-up secrets"): ten codes shown once,
 * stored only as keyed hashes, each accepted at most once.
 *
 * Storage: HMAC-SHA-256 under a server-side pepper, bound to the owning subject (user id). The
 * codes carry 60 bits from a CSPRNG, so a slow password hash would add nothing (SP 800-63B
 * §5.1.2.1 allows look-up secrets with at least 112 bits of entropy to be hashed with an approved
 * one-way function; with fewer bits the verifier must be rate-limited, which the login path does).
 * The pepper means a database leak alone yields nothing to test guesses against, and binding the
 * subject stops a row copied from one user to another from working.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { cryptoRandom, type Random } from '../core/index.js';

/** Crockford base32 alphabet: digits and upper-case letters without I, L, O, U. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 3;
const GROUP_LENGTH = 4;
const CODE_CHARS = GROUPS * GROUP_LENGTH;

/** Codes issued per set. */
export const RECOVERY_CODE_COUNT = 10;
/** Entropy per code: 12 characters × 5 bits. */
export const RECOVERY_CODE_BITS = CODE_CHARS * 5;

const DOMAIN = Buffer.from('scrip/recovery-code/v1', 'utf8');
const HASH_BYTES = 32;
const MIN_PEPPER_BYTES = 32;

/** A server secret of at least 256 bits, raw or as a node:crypto secret KeyObject. */
export type RecoveryPepper = Uint8Array | KeyObject;

/**
 * Generates `count` distinct codes formatted `XXXX-XXXX-XXXX`. Each character takes the low five
 * bits of one random byte: 256 is a multiple of 32, so this is uniform without rejection sampling.
 */
export function generateRecoveryCodes(
  random: Random = cryptoRandom,
  count: number = RECOVERY_CODE_COUNT,
): string[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > 100) {
    throw new TypeError('recovery code count must be 1..100');
  }
  const codes = new Set<string>();
  while (codes.size < count) {
    const bytes = random.bytes(CODE_CHARS);
    if (bytes.byteLength !== CODE_CHARS) throw new TypeError('Random returned wrong length');
    let raw = '';
    for (const byte of bytes) raw += ALPHABET.charAt(byte & 31);
    codes.add(formatCode(raw));
  }
  return [...codes];
}

function formatCode(raw: string): string {
  const groups: string[] = [];
  for (let i = 0; i < CODE_CHARS; i += GROUP_LENGTH) groups.push(raw.slice(i, i + GROUP_LENGTH));
  return groups.join('-');
}

/**
 * The canonical form of user input, or `undefined` when it cannot be a code: case-insensitive,
 * spaces and hyphens ignored, and Crockford's substitutions O→0, I/L→1 for misread characters.
 */
export function normalizeRecoveryCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const compact = input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (compact.length !== CODE_CHARS) return undefined;
  for (const ch of compact) if (!ALPHABET.includes(ch)) return undefined;
  return compact;
}

function checkPepper(pepper: RecoveryPepper): void {
  const size = pepper instanceof Uint8Array ? pepper.byteLength : pepper.symmetricKeySize;
  if (size === undefined || size < MIN_PEPPER_BYTES) {
    throw new TypeError(
      `recovery code pepper must be a secret of at least ${MIN_PEPPER_BYTES} bytes`,
    );
  }
}

function mac(pepper: RecoveryPepper, subject: string, canonical: string): Buffer {
  const subjectBytes = Buffer.from(subject, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(subjectBytes.byteLength, 0);
  // Domain label, then a length-prefixed subject, then the fixed-length code: unambiguous framing.
  return createHmac('sha256', pepper)
    .update(DOMAIN)
    .update(length)
    .update(subjectBytes)
    .update(canonical, 'ascii')
    .digest();
}

/**
 * The value to store for one code: hex HMAC-SHA-256(pepper, domain ‖ subject ‖ code). Throws
 * `TypeError` for a string that is not a code (callers hash only codes they generated).
 */
export function hashRecoveryCode(pepper: RecoveryPepper, subject: string, code: string): string {
  checkPepper(pepper);
  if (subject.length === 0) throw new TypeError('recovery code subject must be non-empty');
  const canonical = normalizeRecoveryCode(code);
  if (canonical === undefined) throw new TypeError('not a recovery code');
  return mac(pepper, subject, canonical).toString('hex');
}

/**
 * Finds which stored hash (if any) the entered code matches and returns its index, or `null`.
 * Every stored hash is compared in constant time and the loop never exits early, so timing does
 * not reveal the position or a partial match. Single use is the caller's part: remove or mark the
 * matched entry in the same transaction as the login, conditioned on it still being unused.
 */
export function matchRecoveryCode(
  pepper: RecoveryPepper,
  subject: string,
  input: string,
  storedHashes: readonly string[],
): number | null {
  checkPepper(pepper);
  const canonical = normalizeRecoveryCode(input);
  if (canonical === undefined || subject.length === 0) return null;
  const candidate = mac(pepper, subject, canonical);
  let found: number | null = null;
  storedHashes.forEach((stored, index) => {
    const bytes = /^[0-9a-f]{64}$/.test(stored) ? Buffer.from(stored, 'hex') : undefined;
    if (bytes?.byteLength !== HASH_BYTES) return;
    if (timingSafeEqual(bytes, candidate) && found === null) found = index;
  });
  return found;
}
