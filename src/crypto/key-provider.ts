/**
 * The key-encryption-key (KEK) port of the envelope design: PHI is encrypted in the application
 * with per-tenant data keys (AES-256-GCM in node:crypto), and only the data keys are encrypted
 * ("wrapped") by the KEK, which lives in a {@link KeyProvider}. The same provider also holds the
 * ECDSA P-256 signing keys (ES256, RFC 7518 §3.4) used for prescription signatures and JWS.
 *
 * Two implementations: `local` (key files in a 0700 directory, see local-key-provider.ts) and
 * `pkcs11` (any PKCS#11 v2.40 token; the KEK and signing keys never leave it).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { AppError } from '../core/index.js';
import { toJwk, type Es256PublicJwk } from './jws.js';

/** Which implementation backs a provider. */
export type KeyProviderKind = 'local' | 'pkcs11';

/**
 * Wrapping algorithms, named after RFC 7518 where a name exists.
 * - `A256GCMKW`: AES-256-GCM as in RFC 7518 §4.7 (NIST SP 800-38D, random 96-bit nonce, 128-bit
 *   tag), plus AAD binding the blob header and a purpose string.
 * - `A256KWP`: AES-256 key wrap with padding (RFC 5649, NIST SP 800-38F KWP); deterministic.
 */
export type WrapAlgorithm = 'A256GCMKW' | 'A256KWP';

/**
 * A data key wrapped by one KEK version. `wrapped` is self-describing: it starts with the
 * {@link WRAPPED_HEADER_LENGTH}-byte header (format, algorithm, KEK version), so storing only
 * `wrapped` is enough; {@link parseWrappedKey} recovers the other two fields from it.
 */
export interface WrappedKey {
  readonly kekVersion: number;
  readonly wrapped: Buffer;
  readonly algorithm: WrapAlgorithm;
}

/** The public half of a provider-held signing key. The private half never leaves the provider. */
export interface SigningPublicKey {
  readonly keyId: string;
  readonly algorithm: 'ES256';
  readonly publicKey: KeyObject;
  readonly jwk: Es256PublicJwk;
}

/** Non-secret facts about a provider, safe for logs and health output. Never PINs or keys. */
export type KeyProviderDescription =
  | {
      readonly kind: 'local';
      readonly kekVersion: number;
      readonly wrapAlgorithm: 'A256GCMKW';
      readonly kekSource: 'directory' | 'external';
      readonly keyDir: string;
    }
  | {
      readonly kind: 'pkcs11';
      readonly kekVersion: number;
      readonly wrapAlgorithm: 'A256KWP';
      readonly modulePath: string;
      readonly tokenLabel: string;
    };

/**
 * The KEK and signing-key port. Errors are {@link AppError}s:
 * `integrity_error` (a wrapped key failed authentication or is malformed), `shredded` (its KEK
 * version was destroyed), `not_found` (unknown signing key), `conflict` (refused state change),
 * `config_invalid` (bad key files, token, PIN) and `unavailable` (closed provider, device gone).
 * Passing a non-Buffer or a data key outside 16..64 bytes is misuse and throws `TypeError`.
 */
export interface KeyProvider {
  readonly kind: KeyProviderKind;
  /** The version new wraps use; re-read from the store, so rotations by other processes show. */
  currentKekVersion(): Promise<number>;
  /** Wraps a data key (16..64 bytes) with the current KEK. */
  wrap(dataKey: Buffer): Promise<WrappedKey>;
  /** Unwraps with the KEK version named in the blob; the data key comes back into memory. */
  unwrap(wrapped: WrappedKey): Promise<Buffer>;
  /** Unwraps with the old KEK version and wraps with the current one. */
  rewrap(wrapped: WrappedKey): Promise<WrappedKey>;
  /** Creates the next KEK version and makes it current; older versions stay usable for unwrap. */
  rotateKek(): Promise<number>;
  /**
   * Destroys an old KEK version (crypto-shredding): blobs under it then fail with `shredded`.
   * Refuses the current version. Re-wrap every data key still under `version` first.
   */
  destroyKekVersion(version: number): Promise<void>;
  /** Generates an ECDSA P-256 key pair whose private key stays in the provider. */
  generateSigningKey(): Promise<SigningPublicKey>;
  /** ES256 over `data`: ECDSA P-256 with SHA-256, IEEE P1363 `r || s` (64 bytes, RFC 7518 §3.4). */
  sign(keyId: string, data: Buffer): Promise<Buffer>;
  getSigningPublicKey(keyId: string): Promise<SigningPublicKey>;
  /** All signing keys, ordered by key id. */
  listSigningKeys(): Promise<SigningPublicKey[]>;
  describe(): KeyProviderDescription;
  /** Releases key material and sessions; idempotent. Later calls fail with `unavailable`. */
  close(): Promise<void>;
}

/** Wrapped-key blob header: format (1 byte), algorithm id (1 byte), KEK version (uint32 BE). */
export const WRAPPED_HEADER_LENGTH = 6;
const FORMAT_V1 = 1;
const ALGORITHM_IDS: Readonly<Record<WrapAlgorithm, number>> = { A256GCMKW: 1, A256KWP: 2 };

/** Inclusive bounds on data-key length accepted by `wrap`. */
export const DATA_KEY_MIN_BYTES = 16;
export const DATA_KEY_MAX_BYTES = 64;

/** Builds the blob header; the local provider also feeds it to GCM as AAD. */
export function encodeWrappedHeader(algorithm: WrapAlgorithm, kekVersion: number): Buffer {
  assertKekVersion(kekVersion);
  const header = Buffer.alloc(WRAPPED_HEADER_LENGTH);
  header.writeUInt8(FORMAT_V1, 0);
  header.writeUInt8(ALGORITHM_IDS[algorithm], 1);
  header.writeUInt32BE(kekVersion, 2);
  return header;
}

/** Reads the header of a stored blob. Malformed input is an `integrity_error`. */
export function parseWrappedKey(wrapped: Buffer): WrappedKey {
  if (!Buffer.isBuffer(wrapped)) throw new TypeError('wrapped must be a Buffer');
  if (wrapped.length <= WRAPPED_HEADER_LENGTH || wrapped.readUInt8(0) !== FORMAT_V1) {
    throw new AppError('integrity_error', 'wrapped key is malformed or of an unknown format');
  }
  const id = wrapped.readUInt8(1);
  const algorithm = (Object.keys(ALGORITHM_IDS) as WrapAlgorithm[]).find(
    (name) => ALGORITHM_IDS[name] === id,
  );
  const kekVersion = wrapped.readUInt32BE(2);
  if (algorithm === undefined || kekVersion < 1) {
    throw new AppError('integrity_error', 'wrapped key is malformed or of an unknown format');
  }
  return { kekVersion, wrapped, algorithm };
}

/**
 * Checks that a {@link WrappedKey}'s fields agree with its blob header and with the algorithm this
 * provider uses, and returns the payload after the header.
 */
export function wrappedPayload(w: WrappedKey, expected: WrapAlgorithm): Buffer {
  const parsed = parseWrappedKey(w.wrapped);
  if (
    parsed.algorithm !== expected ||
    w.algorithm !== expected ||
    parsed.kekVersion !== w.kekVersion
  ) {
    throw new AppError('integrity_error', 'wrapped key header does not match its fields');
  }
  return w.wrapped.subarray(WRAPPED_HEADER_LENGTH);
}

/** Throws `TypeError` unless `dataKey` is a Buffer of 16..64 bytes. */
export function assertDataKey(dataKey: Buffer): void {
  if (!Buffer.isBuffer(dataKey)) throw new TypeError('dataKey must be a Buffer');
  if (dataKey.length < DATA_KEY_MIN_BYTES || dataKey.length > DATA_KEY_MAX_BYTES) {
    throw new TypeError(
      `dataKey must be ${DATA_KEY_MIN_BYTES}..${DATA_KEY_MAX_BYTES} bytes, got ${dataKey.length}`,
    );
  }
}

/** Throws `TypeError` unless `version` is a KEK version (integer 1..2^32-1). */
export function assertKekVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) {
    throw new TypeError('KEK version must be an integer from 1 to 2^32-1');
  }
}

const KEY_ID_RE = /^[A-Za-z0-9_-]{22}$/;

/**
 * True for a well-formed signing key id (16 random bytes, base64url). Providers answer
 * `not_found` for anything else before touching a file name or the token.
 */
export function isSigningKeyId(keyId: string): boolean {
  return typeof keyId === 'string' && KEY_ID_RE.test(keyId);
}

/** The `not_found` error for an unknown or malformed signing key id. */
export function signingKeyNotFound(): AppError {
  return new AppError('not_found', 'signing key not found');
}

/** Builds the public view of a P-256 key (given either half); other keys throw `TypeError`. */
export function toSigningPublicKey(keyId: string, key: KeyObject): SigningPublicKey {
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  return { keyId, algorithm: 'ES256', publicKey, jwk: toJwk(publicKey, keyId) };
}

/** The `unavailable` error every method of a closed provider throws. */
export function providerClosed(): AppError {
  return new AppError('unavailable', 'key provider is closed');
}
