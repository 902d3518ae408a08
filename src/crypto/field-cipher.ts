/**
 * Envelope encryption of PHI columns: each value is sealed with AES-256-GCM under the tenant's
 * current data key, and the associated data binds tenant, table, column and row id, so a
 * ciphertext copied to another row, column or tenant no longer authenticates.
 *
 * Wire format v1 (stored as `bytea`, or as unpadded base64url in `text`):
 *
 * ```
 * offset  size  field
 * 0       1     format version = 0x01
 * 1       4     data-key version, unsigned big-endian
 * 5       12    nonce (random, NIST SP 800-38D §8.2.2)
 * 17      n     ciphertext (n = plaintext length, n >= 0)
 * 17+n    16    GCM tag (full 128 bits, SP 800-38D §5.2.1.2)
 * ```
 *
 * AAD = "scrip:field:v1\0" ‖ bytes 0..4 of the blob ‖ for each of tenant, table, column, row id:
 * u32be(UTF-8 length) ‖ UTF-8. Length prefixes make the encoding injective, so ("ab","c") and
 * ("a","bc") never share AAD; the header is in the AAD so the key version cannot be rewritten.
 */
import { AppError, cryptoRandom, type Random } from '../core/index.js';
import {
  aesGcmDecryptWithNonce,
  aesGcmEncryptWithNonce,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  type AesKey,
} from './aes-gcm.js';
import { decodeBase64UrlStrict, encodeBase64Url, lengthPrefixed, utf8Strict } from './encoding.js';

/** The only format version this code writes and reads. */
export const FIELD_FORMAT_V1 = 0x01;
const AAD_DOMAIN = Buffer.from('scrip:field:v1\0', 'utf8');
const HEADER_BYTES = 1 + 4;
const NONCE_OFFSET = HEADER_BYTES;
const CIPHERTEXT_OFFSET = NONCE_OFFSET + GCM_NONCE_BYTES;
/** Smallest valid blob: header, nonce and tag around an empty plaintext. */
export const FIELD_MIN_BYTES = CIPHERTEXT_OFFSET + GCM_TAG_BYTES;

/** Where a value lives. Every part is bound into the AAD. */
export interface FieldContext {
  readonly tenantId: string;
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
}

/** A tenant data key: 32 bytes (or a secret KeyObject) and its version (uint32). */
export interface DataKey {
  readonly version: number;
  readonly key: AesKey;
}

/**
 * Resolves the tenant's data key by version. Return `undefined` only when the key existed and was
 * destroyed (crypto-shredding); for a version the tenant never had, throw
 * `AppError('integrity_error')`, so a blob copied from another tenant is not reported as shredded.
 */
export type DataKeyLookup = (
  version: number,
  tenantId: string,
) => DataKey | undefined | Promise<DataKey | undefined>;

/** The parts of a v1 blob, after strict length and version checks. */
export interface ParsedField {
  readonly formatVersion: typeof FIELD_FORMAT_V1;
  readonly keyVersion: number;
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

export interface EncryptFieldOptions {
  /** Nonce source; node:crypto's CSPRNG unless a test injects one. */
  readonly random?: Random;
  /** When given, one encryption is reserved against the key's limit before sealing. */
  readonly usage?: DataKeyUsage;
}

function assertKeyVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff_ffff) {
    throw new TypeError('data key version must be an integer in [0, 2^32-1]');
  }
}

function buildAad(ctx: FieldContext, header: Buffer): Buffer {
  const parts: Array<[string, string]> = [
    ['tenantId', ctx.tenantId],
    ['table', ctx.table],
    ['column', ctx.column],
    ['rowId', ctx.rowId],
  ];
  const encoded = parts.map(([name, value]) => {
    if (typeof value !== 'string' || value.length === 0) {
      throw new TypeError(`field context ${name} must be a non-empty string`);
    }
    return utf8Strict(value, `field context ${name}`);
  });
  return Buffer.concat([AAD_DOMAIN, header, lengthPrefixed(encoded)]);
}

function integrityError(ctx: FieldContext, message: string, cause?: unknown): AppError {
  // Names the column, never the value: messages and details must stay free of PHI.
  return new AppError('integrity_error', message, {
    detail: `${ctx.table}.${ctx.column}`,
    cause,
  });
}

/**
 * Encrypts one column value under `dataKey` (format v1, see the module comment).
 *
 * @returns the blob for a `bytea` column; {@link fieldToText} gives the `text` form.
 * @throws TypeError on an invalid context, key or key version.
 * @throws AppError `internal` (detail `data_key_exhausted`) when `options.usage` refuses the key.
 */
export function encryptField(
  ctx: FieldContext,
  plaintext: string | Uint8Array,
  dataKey: DataKey,
  options: EncryptFieldOptions = {},
): Buffer {
  assertKeyVersion(dataKey.version);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(FIELD_FORMAT_V1, 0);
  header.writeUInt32BE(dataKey.version, 1);
  const aad = buildAad(ctx, header);
  const bytes = typeof plaintext === 'string' ? utf8Strict(plaintext, 'plaintext') : plaintext;
  options.usage?.reserve(dataKey.version);
  const nonce = (options.random ?? cryptoRandom).bytes(GCM_NONCE_BYTES);
  const { ciphertext, tag } = aesGcmEncryptWithNonce(dataKey.key, nonce, bytes, aad);
  return Buffer.concat([header, nonce, ciphertext, tag]);
}

/**
 * Splits a v1 blob, rejecting anything shorter than {@link FIELD_MIN_BYTES} or with an unknown
 * format version. Does not authenticate: only {@link decryptField} does.
 *
 * @throws AppError `integrity_error` (detail `malformed` or `format_version`).
 */
export function parseField(blob: Uint8Array): ParsedField {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.byteLength < 1) {
    throw new AppError('integrity_error', 'field ciphertext is empty', { detail: 'malformed' });
  }
  if (buf.readUInt8(0) !== FIELD_FORMAT_V1) {
    throw new AppError('integrity_error', 'unsupported field ciphertext format version', {
      detail: 'format_version',
    });
  }
  if (buf.byteLength < FIELD_MIN_BYTES) {
    throw new AppError('integrity_error', 'field ciphertext is truncated', { detail: 'malformed' });
  }
  return {
    formatVersion: FIELD_FORMAT_V1,
    keyVersion: buf.readUInt32BE(1),
    nonce: buf.subarray(NONCE_OFFSET, CIPHERTEXT_OFFSET),
    ciphertext: buf.subarray(CIPHERTEXT_OFFSET, buf.byteLength - GCM_TAG_BYTES),
    tag: buf.subarray(buf.byteLength - GCM_TAG_BYTES),
  };
}

/** The `text`-column form of a blob: unpadded base64url (RFC 4648 §5). */
export function fieldToText(blob: Uint8Array): string {
  return encodeBase64Url(blob);
}

/**
 * Parses the `text` form strictly (canonical base64url only).
 *
 * @throws AppError `integrity_error` (detail `malformed`).
 */
export function fieldFromText(text: string): Buffer {
  const bytes = decodeBase64UrlStrict(text);
  if (bytes === undefined) {
    throw new AppError('integrity_error', 'field ciphertext is not canonical base64url', {
      detail: 'malformed',
    });
  }
  return bytes;
}

/**
 * Decrypts a value written by {@link encryptField} for the same `ctx`. A string `blob` is read as
 * the `text` form.
 *
 * @throws AppError `shredded` when `keyLookup` reports the data key destroyed.
 * @throws AppError `integrity_error` when the blob is malformed, of an unknown format version,
 *   tampered with, or was written for another tenant, table, column or row.
 * @throws TypeError when `keyLookup` returns a key for a different version.
 */
export async function decryptField(
  ctx: FieldContext,
  blob: Uint8Array | string,
  keyLookup: DataKeyLookup,
): Promise<Buffer> {
  const bytes = typeof blob === 'string' ? fieldFromText(blob) : blob;
  const parsed = parseField(bytes);
  const aad = buildAad(ctx, Buffer.from(bytes.subarray(0, HEADER_BYTES)));
  const dataKey = await keyLookup(parsed.keyVersion, ctx.tenantId);
  if (dataKey === undefined) {
    throw new AppError('shredded', 'the data key for this value has been destroyed', {
      detail: `${ctx.table}.${ctx.column}`,
    });
  }
  if (dataKey.version !== parsed.keyVersion) {
    throw new TypeError('keyLookup returned a data key of another version');
  }
  try {
    return aesGcmDecryptWithNonce(dataKey.key, parsed.nonce, parsed.ciphertext, parsed.tag, aad);
  } catch (err) {
    if (err instanceof AppError && err.code === 'integrity_error') {
      throw integrityError(ctx, 'field ciphertext failed authentication', err);
    }
    throw err;
  }
}

/**
 * {@link decryptField} for values encrypted from strings: the plaintext must be valid UTF-8.
 *
 * @throws AppError `integrity_error` when the authenticated bytes are not UTF-8.
 */
export async function decryptFieldText(
  ctx: FieldContext,
  blob: Uint8Array | string,
  keyLookup: DataKeyLookup,
): Promise<string> {
  const bytes = await decryptField(ctx, blob, keyLookup);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw integrityError(ctx, 'field plaintext is not valid UTF-8', cause);
  }
}

export interface DataKeyUsageOptions {
  /** Hard ceiling of encryptions per key; default 2^31, half the 2^32 bound. */
  readonly limit?: number;
  /** From this count on, `rotate` is true; default 2^30, so rotation starts early. */
  readonly rotateAt?: number;
}

export interface DataKeyUsageStatus {
  readonly used: number;
  readonly remaining: number;
  /** True once `used >= rotateAt`: make a new data key current. */
  readonly rotate: boolean;
}

/**
 * Counts encryptions per data-key version so no key sees more random-nonce GCM invocations than
 * NIST SP 800-38D §8.3 allows (2^32 with 96-bit random nonces, keeping the collision probability
 * at or below 2^-32). The default hard limit is 2^31 with rotation signalled from 2^30.
 *
 * In-memory only: with several nodes, persist the count (e.g. a counter column incremented in the
 * same transaction, or a per-node reservation of blocks) and {@link DataKeyUsage.restore} it.
 */
export class DataKeyUsage {
  static readonly DEFAULT_LIMIT = 2 ** 31;
  static readonly DEFAULT_ROTATE_AT = 2 ** 30;
  readonly limit: number;
  readonly rotateAt: number;
  readonly #used = new Map<number, number>();

  constructor(options: DataKeyUsageOptions = {}) {
    const limit = options.limit ?? DataKeyUsage.DEFAULT_LIMIT;
    const rotateAt = options.rotateAt ?? Math.min(DataKeyUsage.DEFAULT_ROTATE_AT, limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 2 ** 32) {
      throw new TypeError('DataKeyUsage limit must be an integer in [1, 2^32]');
    }
    if (!Number.isSafeInteger(rotateAt) || rotateAt < 1 || rotateAt > limit) {
      throw new TypeError('DataKeyUsage rotateAt must be an integer in [1, limit]');
    }
    this.limit = limit;
    this.rotateAt = rotateAt;
  }

  /** Current count for a key version. */
  status(version: number): DataKeyUsageStatus {
    assertKeyVersion(version);
    const used = this.#used.get(version) ?? 0;
    return { used, remaining: this.limit - used, rotate: used >= this.rotateAt };
  }

  /**
   * Reserves `count` encryptions under `version` before they happen.
   *
   * @throws AppError `internal` (detail `data_key_exhausted`) when the limit would be passed;
   *   nothing is reserved then. Rotate the data key and retry.
   */
  reserve(version: number, count = 1): DataKeyUsageStatus {
    assertKeyVersion(version);
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new TypeError('reserve count must be a positive integer');
    }
    const used = this.#used.get(version) ?? 0;
    if (used + count > this.limit) {
      throw new AppError('internal', 'data key usage limit reached; rotate the data key', {
        detail: 'data_key_exhausted',
      });
    }
    this.#used.set(version, used + count);
    return this.status(version);
  }

  /** Loads a persisted count; never lowers the count already held. */
  restore(version: number, used: number): void {
    assertKeyVersion(version);
    if (!Number.isSafeInteger(used) || used < 0) {
      throw new TypeError('restored usage must be a non-negative integer');
    }
    this.#used.set(version, Math.max(used, this.#used.get(version) ?? 0));
  }
}
