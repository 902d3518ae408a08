/**
 * AES-256-GCM authenticated encryption (NIST SP 800-38D) through node:crypto only.
 *
 * - 96-bit nonces (SP 800-38D §5.2.1.1 recommends 96 bits; other lengths go through GHASH).
 * - Random nonces per SP 800-38D §8.2.2. The caller bounds invocations per key well below 2^32
 *   (§8.3); see `DataKeyUsage` in field-cipher.ts.
 * - Full 128-bit tags only. Node 20's `createDecipheriv` without `authTagLength` accepts tags as
 *   short as 4 bytes, which would make forgery far cheaper (SP 800-38D §5.2.1.2, Appendix C), so
 *   every decipher pins `authTagLength: 16` and the length is also checked up front.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { AppError, cryptoRandom, type Random } from '../core/index.js';

/** AES-256 key length in bytes. */
export const AES_256_KEY_BYTES = 32;
/** GCM nonce (IV) length in bytes: 96 bits, SP 800-38D §5.2.1.1. */
export const GCM_NONCE_BYTES = 12;
/** GCM tag length in bytes: the full 128 bits, SP 800-38D §5.2.1.2. */
export const GCM_TAG_BYTES = 16;

/** A raw 32-byte key or a node:crypto secret KeyObject of 32 bytes. */
export type AesKey = Uint8Array | KeyObject;

/** Ciphertext and tag produced under a known nonce. */
export interface GcmCiphertext {
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** The three parts a receiver needs, besides the key and AAD. */
export interface GcmSealed extends GcmCiphertext {
  readonly nonce: Buffer;
}

export interface SealOptions {
  /** Additional authenticated data (SP 800-38D §7.1 "A"); not encrypted, but bound to the tag. */
  readonly aad?: Uint8Array;
  /** Source of the nonce; node:crypto's CSPRNG unless a test injects one. */
  readonly random?: Random;
}

function assertKey(key: AesKey): void {
  if (key instanceof Uint8Array) {
    if (key.byteLength !== AES_256_KEY_BYTES) {
      throw new TypeError('AES-256-GCM key must be 32 bytes');
    }
    return;
  }
  if (key.type !== 'secret' || key.symmetricKeySize !== AES_256_KEY_BYTES) {
    throw new TypeError('AES-256-GCM key must be a 32-byte secret KeyObject');
  }
}

function assertNonce(nonce: Uint8Array): void {
  if (!(nonce instanceof Uint8Array) || nonce.byteLength !== GCM_NONCE_BYTES) {
    throw new TypeError('AES-GCM nonce must be 12 bytes');
  }
}

/**
 * GCM authenticated encryption with an explicit nonce (SP 800-38D §7.1). For known-answer tests
 * and for formats that derive the nonce themselves; everything else calls {@link aesGcmSeal},
 * because reusing a nonce under one key forfeits both confidentiality and integrity (§8).
 */
export function aesGcmEncryptWithNonce(
  key: AesKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): GcmCiphertext {
  assertKey(key);
  assertNonce(nonce);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  if (aad !== undefined) cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * GCM authenticated decryption (SP 800-38D §7.2). Returns the plaintext only when the tag
 * verifies; otherwise throws `AppError('integrity_error')` and releases nothing (the output of
 * `update` is zeroed, since GCM decrypts before it authenticates).
 *
 * @throws AppError `integrity_error` on a wrong key, nonce, AAD, ciphertext, tag, or tag length.
 * @throws TypeError on a key or nonce of the wrong size.
 */
export function aesGcmDecryptWithNonce(
  key: AesKey,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad?: Uint8Array,
): Buffer {
  assertKey(key);
  assertNonce(nonce);
  if (tag.byteLength !== GCM_TAG_BYTES) {
    throw new AppError('integrity_error', 'AES-GCM authentication failed', {
      detail: 'tag_length',
    });
  }
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(tag);
  if (aad !== undefined) decipher.setAAD(aad);
  const head = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    return tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
  } catch (cause) {
    head.fill(0);
    // A fixed message: the cause from OpenSSL carries no data, but nothing here may echo input.
    throw new AppError('integrity_error', 'AES-GCM authentication failed', { cause });
  }
}

/**
 * Encrypts under a fresh random 96-bit nonce (SP 800-38D §8.2.2, RBG-based construction).
 * Each key must see fewer than 2^32 calls (§8.3); count them with `DataKeyUsage`.
 */
export function aesGcmSeal(
  key: AesKey,
  plaintext: Uint8Array,
  options: SealOptions = {},
): GcmSealed {
  const nonce = (options.random ?? cryptoRandom).bytes(GCM_NONCE_BYTES);
  assertNonce(nonce);
  const { ciphertext, tag } = aesGcmEncryptWithNonce(key, nonce, plaintext, options.aad);
  return { nonce, ciphertext, tag };
}

/**
 * Opens what {@link aesGcmSeal} produced; the same `aad` must be given.
 *
 * @throws AppError `integrity_error` when authentication fails.
 */
export function aesGcmOpen(key: AesKey, sealed: GcmSealed, aad?: Uint8Array): Buffer {
  return aesGcmDecryptWithNonce(key, sealed.nonce, sealed.ciphertext, sealed.tag, aad);
}
