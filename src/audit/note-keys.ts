/**
 * Keys for C2SP signed notes (https://c2sp.org/signed-note): key IDs, signers, verifiers and the
 * `<name>+<hex key ID>+<base64(type ‖ key)>` verifier-key strings used to configure them.
 *
 * Signature types (signed-note §"Signature types"):
 * - 0x02 ECDSA, "as implemented by github.com/transparency-dev/witness" (also Sigstore Rekor):
 *   ASN.1 DER ECDSA-Sig-Value over SHA-256(note text); key ID = SHA-256(SPKI DER)[:4] (the key
 *   name is not hashed for this type); curve P-256 here. This is the platform checkpoint key.
 * - 0x01 Ed25519 (RFC 8032) over the note text; key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte key)[:4].
 *   Supported for verification of witness/third-party keys and for tests.
 * Types 0x03–0x05 are assigned to other uses and 0xff to unregistered schemes; neither is used.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AppError } from '../core/index.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';

/** signed-note signature type byte for Ed25519. */
export const SIGNATURE_TYPE_ED25519 = 0x01;
/** signed-note signature type byte for ECDSA (transparency-dev/witness encoding). */
export const SIGNATURE_TYPE_ECDSA = 0x02;

/** Signs the note text; for ECDSA P-256 returns the 64-byte IEEE-P1363 r ‖ s over SHA-256(message). */
export type NoteSignFn = (message: Buffer) => Promise<Buffer>;

/** A key that can add a signature line: `sign` returns the wire signature (without key ID). */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Buffer): Promise<Buffer>;
}

/** A trusted key: matches signature lines by (name, keyId), then checks the signature. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Buffer, signature: Buffer): boolean;
}

/** True when `name` is a legal signed-note key name: non-empty, no Unicode spaces, no '+'. */
export function isValidKeyName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && !/[\s+\u0000-\u001f\u007f]/u.test(name);
}

function assertKeyName(name: string): void {
  if (typeof name !== 'string' || !isValidKeyName(name)) {
    throw new TypeError(
      'note key name must be non-empty without spaces, "+" or control characters',
    );
  }
}

interface KeyMaterial {
  readonly type: typeof SIGNATURE_TYPE_ED25519 | typeof SIGNATURE_TYPE_ECDSA;
  /** Raw 32 bytes for Ed25519, SPKI DER for ECDSA: the bytes a verifier key string carries. */
  readonly bytes: Buffer;
}

function keyMaterial(publicKey: KeyObject): KeyMaterial {
  if (publicKey.type !== 'public') throw new TypeError('a public KeyObject is required');
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const der = publicKey.export({ format: 'der', type: 'spki' });
    return { type: SIGNATURE_TYPE_ED25519, bytes: der.subarray(der.length - 32) };
  }
  if (
    publicKey.asymmetricKeyType === 'ec' &&
    publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1'
  ) {
    return { type: SIGNATURE_TYPE_ECDSA, bytes: publicKey.export({ format: 'der', type: 'spki' }) };
  }
  throw new TypeError('note keys must be ECDSA P-256 or Ed25519');
}

function keyIdOf(name: string, key: KeyMaterial): number {
  const h =
    key.type === SIGNATURE_TYPE_ECDSA
      ? createHash('sha256').update(key.bytes).digest()
      : createHash('sha256')
          .update(name, 'utf8')
          .update(Buffer.from([0x0a, key.type]))
          .update(key.bytes)
          .digest();
  return h.readUInt32BE(0);
}

/** The signed-note key ID for `name` and `publicKey` (see the module comment per type). */
export function noteKeyId(name: string, publicKey: KeyObject): number {
  assertKeyName(name);
  return keyIdOf(name, keyMaterial(publicKey));
}

function verifyWith(publicKey: KeyObject, type: number, text: Buffer, signature: Buffer): boolean {
  try {
    if (type === SIGNATURE_TYPE_ED25519) {
      return signature.length === 64 && cryptoVerify(null, text, publicKey, signature);
    }
    // OpenSSL rejects non-canonical DER (it re-encodes and compares) and trailing bytes.
    return cryptoVerify('sha256', text, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** Verifier for `publicKey` under `name`; the signature type follows from the key. */
export function createNoteVerifier(name: string, publicKey: KeyObject): NoteVerifier {
  assertKeyName(name);
  const key = keyMaterial(publicKey);
  return {
    name,
    keyId: keyIdOf(name, key),
    verify: (text, signature) => verifyWith(publicKey, key.type, text, signature),
  };
}

function derInteger(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  let body = unsigned.subarray(start);
  if (((body[0] as number) & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

/**
 * Re-encodes a 64-byte IEEE-P1363 P-256 signature (r ‖ s, big-endian) as the ASN.1 DER
 * `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3) that type 0x02 carries.
 * Pure re-encoding; no cryptography.
 */
export function p1363ToDer(signature: Uint8Array): Buffer {
  if (signature.length !== 64) throw new TypeError('expected a 64-byte IEEE-P1363 P-256 signature');
  const sig = Buffer.from(signature);
  const body = Buffer.concat([derInteger(sig.subarray(0, 32)), derInteger(sig.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]); // ≤ 70 bytes: short-form length
}

/**
 * Signer for `publicKey` under `name`, around an injected `sign` (KMS/HSM). For ECDSA P-256 the
 * function must return IEEE-P1363 r ‖ s over SHA-256(message), which is re-encoded to DER; for
 * Ed25519 the 64-byte RFC 8032 signature. Every signature is verified against `publicKey` before
 * use, so a misconfigured or faulty signer fails with `AppError('internal')` instead of emitting
 * an unverifiable checkpoint.
 */
export function createNoteSigner(name: string, publicKey: KeyObject, sign: NoteSignFn): NoteSigner {
  assertKeyName(name);
  const key = keyMaterial(publicKey);
  return {
    name,
    keyId: keyIdOf(name, key),
    async sign(text) {
      const raw = await sign(text);
      if (!(raw instanceof Uint8Array) || raw.length !== 64) {
        throw new TypeError('note signer must return a 64-byte signature (IEEE-P1363 for ECDSA)');
      }
      const wire = key.type === SIGNATURE_TYPE_ECDSA ? p1363ToDer(raw) : Buffer.from(raw);
      if (!verifyWith(publicKey, key.type, text, wire)) {
        throw new AppError('internal', 'note signer produced a signature that does not verify');
      }
      return wire;
    },
  };
}

/**
 * The verifier key string `<name>+<8 hex key ID>+<base64(type ‖ key bytes)>`, the format of
 * golang.org/x/mod/sumdb/note (Ed25519) and transparency-dev/witness (ECDSA, SPKI DER).
 */
export function formatVerifierKey(name: string, publicKey: KeyObject): string {
  assertKeyName(name);
  const key = keyMaterial(publicKey);
  const id = keyIdOf(name, key).toString(16).padStart(8, '0');
  return `${name}+${id}+${encodeBase64(Buffer.concat([Buffer.from([key.type]), key.bytes]))}`;
}

/**
 * Parses a verifier key string (see {@link formatVerifierKey}). It is configuration, so any
 * defect, including a key ID that does not match the key, is `AppError('validation_failed')`.
 */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const bad = (why: string): AppError => new AppError('validation_failed', `verifier key: ${why}`);
  // SplitN(vkey, "+", 3): the base64 key may itself contain '+'.
  const [name, idHex, ...rest] = vkey.split('+');
  if (name === undefined || idHex === undefined || rest.length === 0) {
    throw bad('expected name+keyid+key');
  }
  const keyB64 = rest.join('+');
  if (!isValidKeyName(name)) throw bad('invalid key name');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad('key ID must be 8 lowercase hex digits');
  const bytes = decodeBase64Strict(keyB64);
  if (bytes === undefined || bytes.length < 2) throw bad('key is not base64');
  let publicKey: KeyObject;
  try {
    if (bytes[0] === SIGNATURE_TYPE_ED25519 && bytes.length === 33) {
      const x = bytes.subarray(1).toString('base64url');
      publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    } else if (bytes[0] === SIGNATURE_TYPE_ECDSA) {
      publicKey = createPublicKey({ key: bytes.subarray(1), format: 'der', type: 'spki' });
    } else {
      throw bad('unsupported signature type');
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw bad('malformed public key');
  }
  let verifier: NoteVerifier;
  try {
    verifier = createNoteVerifier(name, publicKey);
  } catch {
    throw bad('unsupported key algorithm or curve');
  }
  if (verifier.keyId !== Number.parseInt(idHex, 16)) throw bad('key ID does not match the key');
  return verifier;
}
