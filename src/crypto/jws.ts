/**
 * RFC 7515 JWS Compact Serialization, ES256 only (RFC 7518 §3.4: ECDSA P-256 with SHA-256).
 *
 * The algorithm is an allow-list of one, fixed by the verifier and never taken from the token:
 * `none`, HS* (the public-key-as-HMAC-secret confusion), ES384/ES512, RS*, PS* and anything else
 * are refused. Signatures are exactly 64 bytes `R ‖ S` (RFC 7518 §3.4, IEEE P1363), not DER.
 * Signing goes through an injected {@link JwsSigner}, so an HSM can hold the private key.
 */
import {
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { AppError } from '../core/index.js';
import { decodeBase64UrlStrict, encodeBase64Url, utf8Strict } from './encoding.js';
import { canonicalize } from './jcs.js';

/** The one accepted `alg`. */
export const JWS_ALG = 'ES256';
const SIGNATURE_BYTES = 64;
const COORDINATE_BYTES = 32;

/**
 * Produces an ES256 signature over the JWS Signing Input (RFC 7515 §5.1 step 5): ECDSA P-256
 * SHA-256, returned as 64-byte IEEE P1363 `R ‖ S`. An HSM adapter converts from DER if needed.
 */
export type JwsSigner = (signingInput: Buffer) => Promise<Buffer>;

/** The JOSE header as verified; only `alg: 'ES256'` ever gets here. */
export interface JwsProtectedHeader {
  readonly alg: typeof JWS_ALG;
  readonly kid?: string;
  readonly typ?: string;
  readonly cty?: string;
  readonly [name: string]: unknown;
}

/** A public P-256 signing key as published in the JWKS (RFC 7517 §4, RFC 7518 §6.2.1). */
export interface Es256PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: typeof JWS_ALG;
}

/** A JWK Set (RFC 7517 §5). Entries are checked when used, so `unknown` members are allowed. */
export interface Jwks {
  readonly keys: readonly unknown[];
}

export interface JwsSignOptions {
  readonly kid: string;
  readonly signer: JwsSigner;
  /** Explicit type (RFC 7515 §4.1.9; RFC 8725 §3.11), e.g. `scrip-rx+jws`. */
  readonly typ?: string;
  readonly cty?: string;
  /** Omit the payload from the output (RFC 7515 Appendix F); the verifier supplies it. */
  readonly detached?: boolean;
}

export interface JwsVerifyOptions {
  /** Payload for a detached JWS (RFC 7515 Appendix F); the compact payload part must be empty. */
  readonly detachedPayload?: Uint8Array | string;
  /** Required `typ`, compared exactly. */
  readonly typ?: string;
  /** Required `kid` when verifying with a single KeyObject. */
  readonly kid?: string;
}

export interface VerifiedJws {
  readonly header: JwsProtectedHeader;
  readonly payload: Buffer;
}

function fail(detail: string, message = 'JWS verification failed'): AppError {
  return new AppError('integrity_error', message, { detail });
}

function assertP256(key: KeyObject, type: 'public' | 'private'): void {
  if (
    key.type !== type ||
    key.asymmetricKeyType !== 'ec' ||
    key.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  ) {
    throw new TypeError(`ES256 needs a P-256 ${type} KeyObject`);
  }
}

function toBytes(data: Uint8Array | string, what: string): Buffer {
  return typeof data === 'string'
    ? utf8Strict(data, what)
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A {@link JwsSigner} over a local private key via node:crypto (`dsaEncoding: 'ieee-p1363'`).
 * For tests and the `local` key provider; production signing keys live in the HSM.
 */
export function localEs256Signer(privateKey: KeyObject): JwsSigner {
  assertP256(privateKey, 'private');
  return (signingInput) =>
    Promise.resolve(
      cryptoSign('sha256', signingInput, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    );
}

/**
 * Creates a compact JWS (RFC 7515 §5.1, §7.1). The protected header is `{alg, kid, typ?, cty?}`
 * serialised with RFC 8785 JCS, so equal inputs give equal headers.
 *
 * @throws TypeError when the signer does not return exactly 64 bytes (e.g. DER from an HSM).
 */
export async function signCompactJws(
  payload: Uint8Array | string,
  options: JwsSignOptions,
): Promise<string> {
  if (typeof options.kid !== 'string' || options.kid.length === 0) {
    throw new TypeError('JWS kid must be a non-empty string');
  }
  const header: Record<string, string> = { alg: JWS_ALG, kid: options.kid };
  if (options.typ !== undefined) header.typ = options.typ;
  if (options.cty !== undefined) header.cty = options.cty;
  const encodedHeader = encodeBase64Url(Buffer.from(canonicalize(header), 'utf8'));
  const encodedPayload = encodeBase64Url(toBytes(payload, 'JWS payload'));
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
  const signature = await options.signer(signingInput);
  if (!(signature instanceof Uint8Array) || signature.byteLength !== SIGNATURE_BYTES) {
    throw new TypeError('ES256 signer must return a 64-byte IEEE P1363 signature (R || S)');
  }
  const shown = options.detached === true ? '' : encodedPayload;
  return `${encodedHeader}.${shown}.${encodeBase64Url(signature)}`;
}

/** The public JWK of a P-256 key, with `kid`, `use: 'sig'` and `alg: 'ES256'` (RFC 7517 §4). */
export function toJwk(publicKey: KeyObject, kid: string): Es256PublicJwk {
  assertP256(publicKey, 'public');
  if (typeof kid !== 'string' || kid.length === 0) throw new TypeError('kid must be non-empty');
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new TypeError('P-256 public key exported without coordinates');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, use: 'sig', alg: JWS_ALG };
}

/** A JWK Set of public signing keys; kids must be unique. */
export function buildJwks(keys: ReadonlyArray<{ publicKey: KeyObject; kid: string }>): {
  keys: Es256PublicJwk[];
} {
  const kids = new Set(keys.map((k) => k.kid));
  if (kids.size !== keys.length) throw new TypeError('JWKS kids must be unique');
  return { keys: keys.map((k) => toJwk(k.publicKey, k.kid)) };
}

function str(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Imports a public ES256 JWK, refusing private keys (`d`), other key types and curves, and an
 * `alg`, `use` or `key_ops` that does not permit ES256 verification (RFC 7517 §4.2–4.4).
 *
 * @throws AppError `integrity_error` (detail `bad_jwk`).
 */
export function importEs256Jwk(jwk: unknown): KeyObject {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw fail('bad_jwk');
  const record = jwk as Record<string, unknown>;
  const x = decodeBase64UrlStrict(str(record, 'x') ?? '!');
  const y = decodeBase64UrlStrict(str(record, 'y') ?? '!');
  const keyOps = record.key_ops;
  const ok =
    record.kty === 'EC' &&
    record.crv === 'P-256' &&
    !('d' in record) &&
    x?.byteLength === COORDINATE_BYTES &&
    y?.byteLength === COORDINATE_BYTES &&
    (record.alg === undefined || record.alg === JWS_ALG) &&
    (record.use === undefined || record.use === 'sig') &&
    (keyOps === undefined || (Array.isArray(keyOps) && keyOps.includes('verify')));
  if (!ok) throw fail('bad_jwk');
  const publicJwk: JsonWebKey = {
    kty: 'EC',
    crv: 'P-256',
    x: str(record, 'x'),
    y: str(record, 'y'),
  };
  try {
    // node:crypto checks that the point is on the curve.
    return createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch (cause) {
    throw new AppError('integrity_error', 'JWS verification failed', { detail: 'bad_jwk', cause });
  }
}

function parseHeader(encoded: string): JwsProtectedHeader {
  const bytes = decodeBase64UrlStrict(encoded);
  if (bytes === undefined || bytes.byteLength === 0) throw fail('malformed');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw fail('malformed');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fail('malformed');
  }
  const header = parsed as Record<string, unknown>;
  // RFC 7515 §5.2 step 8 and RFC 8725 §3.1: the verifier's allow-list decides, not the token.
  if (header.alg !== JWS_ALG) throw fail('alg_not_allowed');
  // RFC 7515 §4.1.11: we implement no extensions, so any `crit` must be rejected; RFC 7797 `b64`
  // changes what is signed, so it is refused even when not marked critical.
  if ('crit' in header || 'b64' in header) throw fail('crit_unsupported');
  for (const name of ['kid', 'typ', 'cty'] as const) {
    if (name in header && typeof header[name] !== 'string') throw fail('malformed');
  }
  return header as JwsProtectedHeader;
}

function resolveKey(
  header: JwsProtectedHeader,
  key: KeyObject | Jwks,
  options: JwsVerifyOptions,
): KeyObject {
  if (!('keys' in key)) {
    assertP256(key, 'public');
    if (options.kid !== undefined && header.kid !== options.kid) throw fail('kid_mismatch');
    return key;
  }
  if (header.kid === undefined) throw fail('unknown_kid');
  const matches = key.keys.filter(
    (k) => typeof k === 'object' && k !== null && (k as Record<string, unknown>).kid === header.kid,
  );
  if (matches.length !== 1) throw fail(matches.length === 0 ? 'unknown_kid' : 'ambiguous_kid');
  return importEs256Jwk(matches[0]);
}

/**
 * Verifies a compact JWS following RFC 7515 §5.2: three parts, strict base64url, a UTF-8 JSON
 * object header with `alg: 'ES256'` and no `crit`, a 64-byte signature checked with
 * `dsaEncoding: 'ieee-p1363'` against the given key, or the JWKS entry named by the header `kid`.
 *
 * Duplicate header member names are not detected (JSON.parse keeps the last, as §5.2 step 4
 * permits for parsers that cannot reject them).
 *
 * @throws AppError `integrity_error` with detail `malformed`, `alg_not_allowed`,
 *   `crit_unsupported`, `unknown_kid`, `ambiguous_kid`, `kid_mismatch`, `typ_mismatch`,
 *   `bad_jwk` or `bad_signature`.
 * @throws TypeError when `key` is a KeyObject that is not a P-256 public key.
 */
export function verifyCompactJws(
  jws: string,
  key: KeyObject | Jwks,
  options: JwsVerifyOptions = {},
): VerifiedJws {
  if (typeof jws !== 'string') throw fail('malformed');
  const parts = jws.split('.');
  if (parts.length !== 3) throw fail('malformed');
  const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
  const header = parseHeader(encodedHeader);
  if (options.typ !== undefined && header.typ !== options.typ) throw fail('typ_mismatch');

  let payload: Buffer | undefined;
  let payloadPart = encodedPayload;
  if (options.detachedPayload !== undefined) {
    if (encodedPayload !== '') throw fail('malformed');
    payload = toBytes(options.detachedPayload, 'detached payload');
    payloadPart = encodeBase64Url(payload);
  } else {
    payload = decodeBase64UrlStrict(encodedPayload);
    if (payload === undefined) throw fail('malformed');
  }
  const signature = decodeBase64UrlStrict(encodedSignature);
  if (signature === undefined || signature.byteLength !== SIGNATURE_BYTES) {
    throw fail('bad_signature');
  }
  const publicKey = resolveKey(header, key, options);
  const signingInput = Buffer.from(`${encodedHeader}.${payloadPart}`, 'ascii');
  const valid = cryptoVerify(
    'sha256',
    signingInput,
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    signature,
  );
  if (!valid) throw fail('bad_signature');
  return { header, payload };
}
