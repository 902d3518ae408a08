/**
 * Password hashing with Argon2id (RFC 9106) via @node-rs/argon2, at the OWASP Password Storage
 * Cheat Sheet's first configuration: m = 19456 KiB (19 MiB), t = 2, p = 1. NIST SP 800-63B
 * §5.1.1.2 requires memorized secrets to be salted and hashed with a memory-hard or iterated
 * one-way function; the 16-byte random salt and parameters travel in the PHC string.
 *
 * The password is NFKC-normalised before hashing (§5.1.1.2), so the same password typed on
 * different keyboards or input methods verifies.
 */
import {
  hash,
  parseOptions,
  verify,
  type Algorithm,
  type Options,
  type Version,
} from '@node-rs/argon2';
import { AppError } from '../core/index.js';

export {
  checkPasswordPolicy,
  loadCommonPasswords,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type PasswordContext,
  type PasswordPolicyReason,
} from './password-policy.js';

// The package declares these as ambient const enums, which verbatimModuleSyntax cannot read;
// the values are its Algorithm.Argon2id and Version.V0x13 (a test checks the PHC output).
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- see above
const ARGON2ID = 2 as Algorithm;
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- see above
const VERSION_0X13 = 1 as Version;
const SALT_BYTES = 16;

/** Current hashing parameters; a stored hash made with anything else is rehashed at next login. */
export const PASSWORD_HASH_OPTIONS = {
  algorithm: ARGON2ID,
  version: VERSION_0X13,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const satisfies Options;

/**
 * Inputs longer than this (UTF-16 units, before normalisation) cannot be a password this policy
 * accepted (256 code points after NFKC) and are refused without hashing.
 */
const MAX_VERIFY_INPUT = 4096;

const LONE_SURROGATE_RE = /\p{Cs}/u;

/**
 * An Argon2id hash, with the current parameters, of a random password nobody knows. Verifying
 * against it makes the unknown-user path cost the same as a wrong password (SP 800-63B §5.2.2
 * and STYLE.md: the same answer for "unknown user" and "wrong password"). A test keeps its
 * parameters equal to {@link PASSWORD_HASH_OPTIONS}.
 */
export const DUMMY_PASSWORD_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$LjvJDKSteLTuFecdfjaBfQ$FwcXO7d/ESsCRfPqTBcG06w9QcQjQvfqZCaFOAsP5EY';

export interface PasswordVerification {
  readonly ok: boolean;
  /** True only when `ok` and the stored hash used other parameters than the current ones. */
  readonly needsRehash: boolean;
}

const REFUSED: PasswordVerification = { ok: false, needsRehash: false };

function normalizeForHash(password: string): string | undefined {
  if (password.length > MAX_VERIFY_INPUT || LONE_SURROGATE_RE.test(password)) return undefined;
  return password.normalize('NFKC');
}

/**
 * Hashes a new password (after {@link checkPasswordPolicy} accepted it) into a PHC string.
 * Throws `validation_failed` for text that is not valid Unicode or absurdly long.
 */
export async function hashPassword(password: string): Promise<string> {
  const normalized = normalizeForHash(password);
  if (normalized === undefined) {
    throw new AppError('validation_failed', 'password is not acceptable', { detail: 'password' });
  }
  return hash(normalized, PASSWORD_HASH_OPTIONS);
}

function hasCurrentParameters(stored: ReturnType<typeof parseOptions>): boolean {
  const want = PASSWORD_HASH_OPTIONS;
  return (
    stored.algorithm === want.algorithm &&
    stored.version === want.version &&
    stored.memoryCost === want.memoryCost &&
    stored.timeCost === want.timeCost &&
    stored.parallelism === want.parallelism &&
    stored.outputLen === want.outputLen &&
    stored.saltLen >= SALT_BYTES
  );
}

/**
 * Verifies a password against a stored PHC hash (the comparison inside argon2 is constant-time).
 * `needsRehash` tells the caller to store a fresh {@link hashPassword} result in the login
 * transaction. A stored value that is not a parseable argon2 hash is corruption, not a wrong
 * password: it throws `integrity_error`.
 */
export async function verifyPassword(
  storedHash: string,
  password: string,
): Promise<PasswordVerification> {
  let params: ReturnType<typeof parseOptions>;
  try {
    params = parseOptions(storedHash);
  } catch (cause) {
    throw new AppError('integrity_error', 'stored password hash is malformed', { cause });
  }
  const normalized = normalizeForHash(password);
  if (normalized === undefined) return verifyAgainstDummy(password);
  const ok = await verify(storedHash, normalized);
  return ok ? { ok: true, needsRehash: !hasCurrentParameters(params) } : REFUSED;
}

/**
 * For a login naming no known user: does the same Argon2id work as a real verification and
 * always refuses, so response time does not reveal whether the account exists.
 */
export async function verifyAgainstDummy(password: string): Promise<PasswordVerification> {
  const input = normalizeForHash(password) ?? '';
  await verify(DUMMY_PASSWORD_HASH, input);
  return REFUSED;
}
