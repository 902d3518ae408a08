/**
 * TOTP: time-based one-time passwords (RFC 6238) for the authenticator-app MFA factor, with the
 * replay rule RFC 6238 §5.2 asks for: a code is accepted at most once, enforced by remembering the
 * last accepted time step per user and refusing any step that is not strictly later.
 */
import { cryptoRandom, type Random } from '../core/index.js';
import { encodeBase32 } from './base32.js';
import { hotp, isOtpShaped, otpEquals, type OtpAlgorithm, type OtpDigits } from './hotp.js';

/** RFC 6238 §4.1: X, the time step, 30 seconds by default. */
export const TOTP_STEP_SECONDS = 30;
/** RFC 6238 §4.1: T0, the Unix time to start counting steps, 0 by default. */
export const TOTP_T0_SECONDS = 0;
/** RFC 4226 §4 R6 recommends a 160-bit shared secret. */
export const TOTP_SECRET_BYTES = 20;

export interface TotpOptions {
  /** Defaults to SHA1 (what authenticator apps implement; the otpauth URI advertises it). */
  readonly algorithm?: OtpAlgorithm;
  /** Defaults to 6. */
  readonly digits?: OtpDigits;
}

export interface TotpVerifyOptions extends TotpOptions {
  /**
   * Accepted clock drift in steps either side of the current step. RFC 6238 §5.2 recommends at
   * most one step of network delay; larger windows are not offered. Defaults to 1.
   */
  readonly window?: 0 | 1;
}

const ALLOWED_WINDOWS: readonly number[] = [0, 1];

/** The result of {@link acceptTotp}: the step to store as the user's new `lastUsedStep`. */
export type TotpAcceptance = { readonly ok: true; readonly step: number } | { readonly ok: false };

/** RFC 6238 §4.2: T = floor((unixTime − T0) / X). `nowMs` is milliseconds since the epoch. */
export function totpStep(nowMs: number): number {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new TypeError('time must be a finite ms value');
  return Math.floor((Math.floor(nowMs / 1000) - TOTP_T0_SECONDS) / TOTP_STEP_SECONDS);
}

/** The TOTP code for the time `nowMs` (RFC 6238 §4.2: TOTP = HOTP(K, T)). */
export function totp(secret: Uint8Array, nowMs: number, options: TotpOptions = {}): string {
  return hotp(secret, totpStep(nowMs), options);
}

/**
 * Every time step within the window whose code equals `code`, highest first. Each candidate is
 * compared in constant time and all candidates are computed, so timing does not reveal which
 * step matched.
 */
function matchingSteps(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  options: TotpVerifyOptions,
): number[] {
  const digits = options.digits ?? 6;
  const window = options.window ?? 1;
  if (!ALLOWED_WINDOWS.includes(window)) throw new TypeError('TOTP window must be 0 or 1');
  const current = totpStep(nowMs);
  if (!isOtpShaped(code, digits)) return [];
  const matches: number[] = [];
  for (let step = current + window; step >= current - window; step--) {
    if (step < 0) continue;
    if (otpEquals(hotp(secret, step, options), code, digits)) matches.push(step);
  }
  return matches;
}

/**
 * Verifies a TOTP code allowing `window` steps of drift either side (RFC 6238 §5.2) and returns
 * the matched time-step counter, or `null`. When (by a 10^-digits coincidence) the code matches
 * more than one step, the latest is returned, so storing it refuses every replay of the code.
 * Use {@link acceptTotp} at login; this function alone does not stop replay.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  options: TotpVerifyOptions = {},
): number | null {
  return matchingSteps(secret, code, nowMs, options)[0] ?? null;
}

/**
 * Verifies a TOTP code and enforces one-time use (RFC 6238 §5.2: "the verifier MUST NOT accept
 * the second attempt of the OTP after the successful validation has been issued for the first
 * OTP"): the matched step must be strictly greater than `lastUsedStep` (null when the user has
 * never used a code). On success the caller stores `step` as the new `lastUsedStep` in the same
 * transaction as the login, with a compare-and-set so two concurrent requests cannot both win.
 */
export function acceptTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  lastUsedStep: number | null,
  options: TotpVerifyOptions = {},
): TotpAcceptance {
  if (lastUsedStep !== null && !Number.isSafeInteger(lastUsedStep)) {
    throw new TypeError('lastUsedStep must be a safe integer or null');
  }
  const step = verifyTotp(secret, code, nowMs, options);
  if (step === null || (lastUsedStep !== null && step <= lastUsedStep)) return { ok: false };
  return { ok: true, step };
}

/** A new shared secret: 20 bytes (160 bits, RFC 4226 §4 R6) from the CSPRNG port. */
export function generateTotpSecret(random: Random = cryptoRandom): Buffer {
  const secret = random.bytes(TOTP_SECRET_BYTES);
  if (secret.byteLength !== TOTP_SECRET_BYTES) throw new TypeError('Random returned wrong length');
  return secret;
}

export interface OtpauthUriInput {
  /** The service name shown in the authenticator, e.g. "Scrip (Acme Clinic)". No colon. */
  readonly issuer: string;
  /** The user's account name, e.g. their email. No colon. */
  readonly account: string;
  readonly secret: Uint8Array;
}

/**
 * The `otpauth://totp/` provisioning URI (Google Authenticator "Key Uri Format"): label
 * `issuer:account` with each part percent-encoded, the secret as unpadded base32, the issuer
 * repeated as a parameter (the format recommends both), and the parameters pinned to what
 * {@link verifyTotp} checks by default: SHA1, 6 digits, 30-second period.
 */
export function otpauthUri(input: OtpauthUriInput): string {
  const { issuer, account, secret } = input;
  if (issuer.length === 0 || account.length === 0) {
    throw new TypeError('otpauth issuer and account must be non-empty');
  }
  // The label separator is a colon; the format forbids it inside either part.
  if (issuer.includes(':') || account.includes(':')) {
    throw new TypeError('otpauth issuer and account must not contain ":"');
  }
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = [
    `secret=${encodeBase32(secret)}`,
    `issuer=${encodeURIComponent(issuer)}`,
    'algorithm=SHA1',
    'digits=6',
    `period=${TOTP_STEP_SECONDS}`,
  ].join('&');
  return `otpauth://totp/${label}?${params}`;
}
