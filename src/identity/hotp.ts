/**
 * HOTP: HMAC-based one-time passwords (RFC 4226), the building block of TOTP (RFC 6238).
 * HMAC comes from node:crypto; only the counter encoding and dynamic truncation live here.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC hash functions allowed for OTPs (RFC 6238 §1.2 adds SHA-256 and SHA-512 to SHA-1). */
export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

/** Code lengths accepted: RFC 4226 §5.3 requires at least 6 digits; 8 is used by the vectors. */
export type OtpDigits = 6 | 7 | 8;

export interface HotpOptions {
  /** Defaults to SHA1, which is what authenticator apps implement. */
  readonly algorithm?: OtpAlgorithm;
  /** Defaults to 6. */
  readonly digits?: OtpDigits;
}

/** RFC 4226 §4 R6: the shared secret is at least 128 bits (160 recommended). */
export const MIN_OTP_SECRET_BYTES = 16;

// Runtime guard: the types already say this, but options may come from stored configuration.
const ALLOWED_DIGITS: readonly number[] = [6, 7, 8];

const NODE_HASH: Record<OtpAlgorithm, string> = {
  SHA1: 'sha1',
  SHA256: 'sha256',
  SHA512: 'sha512',
};

function checkOptions(options: HotpOptions): { algorithm: OtpAlgorithm; digits: OtpDigits } {
  const algorithm = options.algorithm ?? 'SHA1';
  const digits = options.digits ?? 6;
  if (!Object.hasOwn(NODE_HASH, algorithm)) throw new TypeError('unsupported OTP algorithm');
  if (!ALLOWED_DIGITS.includes(digits)) throw new TypeError('OTP digits must be 6-8');
  return { algorithm, digits };
}

/**
 * The HOTP value for `counter` (RFC 4226 §5.3): HMAC over the 8-byte big-endian counter, dynamic
 * truncation to a 31-bit integer (offset = low nibble of the last byte, §5.4), then modulo
 * 10^digits, left-padded with zeros.
 */
export function hotp(secret: Uint8Array, counter: number, options: HotpOptions = {}): string {
  const { algorithm, digits } = checkOptions(options);
  if (secret.byteLength < MIN_OTP_SECRET_BYTES) {
    throw new TypeError(`OTP secret must be at least ${MIN_OTP_SECRET_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new TypeError('HOTP counter must be a non-negative safe integer');
  }
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter), 0);
  const mac = createHmac(NODE_HASH[algorithm], secret).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fff_ffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** True when `code` is exactly `digits` ASCII decimal digits. */
export function isOtpShaped(code: string, digits: OtpDigits): boolean {
  return code.length === digits && /^[0-9]+$/.test(code);
}

/**
 * Constant-time equality of two OTP strings. Both are first checked to be `digits` ASCII digits,
 * so the buffers handed to timingSafeEqual always have equal length and a wrong-length input is
 * refused without comparing.
 */
export function otpEquals(expected: string, candidate: string, digits: OtpDigits): boolean {
  if (!isOtpShaped(expected, digits) || !isOtpShaped(candidate, digits)) return false;
  return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(candidate, 'latin1'));
}

/** Checks an HOTP code against one counter value (no look-ahead window). */
export function verifyHotp(
  secret: Uint8Array,
  code: string,
  counter: number,
  options: HotpOptions = {},
): boolean {
  const { digits } = checkOptions(options);
  if (!isOtpShaped(code, digits)) return false;
  return otpEquals(hotp(secret, counter, options), code, digits);
}
