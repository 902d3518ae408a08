import { createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as Pkcs11Module from 'pkcs11js';
import type { PKCS11, Template } from 'pkcs11js';
import { AppError } from '../core/index.js';
import {
  assertDataKey,
  assertKekVersion,
  encodeWrappedHeader,
  isSigningKeyId,
  providerClosed,
  signingKeyNotFound,
  toSigningPublicKey,
  wrappedPayload,
  type KeyProvider,
  type KeyProviderDescription,
  type SigningPublicKey,
  type WrappedKey,
} from './key-provider.js';

type Handle = Buffer;

/** Options for {@link Pkcs11KeyProvider.open}. The PIN is used once, to log in, and not kept. */
export interface Pkcs11KeyProviderOptions {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly modulePath: string;
  /** CKA/token label of an initialised token (matched after trimming the blank padding). */
  readonly tokenLabel: string;
  /** User PIN (CKU_USER). Never logged, stored, or put in errors or `describe()`. */
  readonly pin: string;
}

/**
 * pkcs11js is CommonJS whose exports Node's ESM loader cannot list, and its typings are an ambient
 * module without a default export, so it is loaded through `require`; the types still come from it.
 */
const p = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;
const KEK_LABEL_RE = /^scrip-kek-v(\d+)$/;
const kekLabel = (version: number): string => `scrip-kek-v${version}`;
const SIGNING_LABEL = 'scrip-signing-key';
/** CKM_AES_KEY_WRAP_PAD: RFC 5649 key wrap with padding (PKCS#11 v2.40 Current Mechanisms). */
const KWP = { mechanism: p.CKM_AES_KEY_WRAP_PAD };
/** DER OID 1.2.840.10045.3.1.7 (prime256v1 / P-256), the CKA_EC_PARAMS of a signing key. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
const REQUIRED_MECHANISMS: Readonly<Record<string, number>> = {
  CKM_AES_KEY_GEN: p.CKM_AES_KEY_GEN,
  CKM_AES_KEY_WRAP_PAD: p.CKM_AES_KEY_WRAP_PAD,
  CKM_EC_KEY_PAIR_GEN: p.CKM_EC_KEY_PAIR_GEN,
  CKM_ECDSA: p.CKM_ECDSA,
};
/** Return values from C_UnwrapKey that mean "this blob does not verify under this KEK". */
const UNWRAP_REJECTED = new Set([
  p.CKR_WRAPPED_KEY_INVALID,
  p.CKR_WRAPPED_KEY_LEN_RANGE,
  p.CKR_ENCRYPTED_DATA_INVALID,
  p.CKR_ENCRYPTED_DATA_LEN_RANGE,
  p.CKR_GENERAL_ERROR, // SoftHSM2's answer to a failed RFC 5649 integrity check
  p.CKR_FUNCTION_FAILED,
]);
const UNAVAILABLE = new Set([
  p.CKR_SESSION_COUNT,
  p.CKR_DEVICE_ERROR,
  p.CKR_DEVICE_MEMORY,
  p.CKR_DEVICE_REMOVED,
  p.CKR_TOKEN_NOT_PRESENT,
  p.CKR_SESSION_CLOSED,
  p.CKR_SESSION_HANDLE_INVALID,
  p.CKR_CRYPTOKI_NOT_INITIALIZED,
]);
const PIN_REJECTED = new Set([
  p.CKR_PIN_INCORRECT,
  p.CKR_PIN_INVALID,
  p.CKR_PIN_LEN_RANGE,
  p.CKR_PIN_EXPIRED,
  p.CKR_PIN_LOCKED,
]);

/**
 * KEK and signing keys on a PKCS#11 v2.40 token; key material for the KEK and the signing keys
 * never leaves it.
 *
 * - KEK version N is an AES-256 token key labelled `scrip-kek-vN` made by C_GenerateKey
 *   (CKM_AES_KEY_GEN) with CKA_SENSITIVE, not CKA_EXTRACTABLE, and only CKA_WRAP/CKA_UNWRAP (no
 *   CKA_ENCRYPT/CKA_DECRYPT, so the token is not a general decryption oracle).
 * - Data keys are wrapped with CKM_AES_KEY_WRAP_PAD (RFC 5649 / NIST SP 800-38F KWP; SoftHSM2 does
 *   not offer AES-GCM as a wrapping mechanism). `wrap` imports the data key as a session object
 *   (CKA_TOKEN false, CKA_SENSITIVE, CKA_EXTRACTABLE) and calls C_WrapKey. `unwrap` calls
 *   C_UnwrapKey into a session object that is extractable and NOT sensitive, reads its CKA_VALUE
 *   and destroys it: the envelope design needs the data key in process memory for AES-GCM field
 *   encryption, and this is the PKCS#11 way to let exactly that key, and never the KEK, out.
 *   Each operation runs in its own session, closed in `finally`, so such objects cannot outlive it.
 * - KWP has no associated data: the blob header is not authenticated by the token, but a changed
 *   KEK version selects a different KEK and then fails the RFC 5649 integrity check.
 * - KWP is deterministic: wrapping the same data key twice under one KEK gives the same blob.
 * - Signing keys are P-256 pairs from C_GenerateKeyPair (CKM_EC_KEY_PAIR_GEN); the private key is
 *   CKO_PRIVATE_KEY, sensitive, non-extractable, CKA_SIGN only. `sign` hashes with SHA-256 in
 *   node:crypto and signs the digest with CKM_ECDSA, whose output is already `r || s`.
 * - Versions and keys are looked up on the token on each call, so rotations by other nodes show.
 *   PKCS#11 has no create-if-absent, so two nodes rotating at once may both create version N;
 *   every node then wraps with the one of lowest CKA_ID and unwrap tries both, so nothing is lost.
 *   Run rotation from one place (the CLI) all the same.
 *
 * A PKCS#11 module is process-global (one C_Initialize per process), so providers share loaded
 * modules through a reference count; the last `close()` calls C_Finalize. Login state is per
 * application and token: a second provider on an already logged-in token does not re-check the PIN.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly kind = 'pkcs11' as const;
  readonly #lib: PKCS11;
  readonly #modulePath: string;
  readonly #tokenLabel: string;
  readonly #slot: Handle;
  readonly #loginSession: Handle;
  #current = 0;
  #closed = false;

  private constructor(lib: PKCS11, modulePath: string, label: string, slot: Handle, login: Handle) {
    this.#lib = lib;
    this.#modulePath = modulePath;
    this.#tokenLabel = label;
    this.#slot = slot;
    this.#loginSession = login;
  }

  /** Loads the module, finds the token, logs in once, and creates KEK v1 if the token has none. */
  static async open(options: Pkcs11KeyProviderOptions): Promise<Pkcs11KeyProvider> {
    const { tokenLabel, pin } = options;
    if (typeof tokenLabel !== 'string' || typeof pin !== 'string' || tokenLabel === '') {
      throw new AppError('config_invalid', 'PKCS#11 token label and PIN are required');
    }
    const modulePath = resolve(options.modulePath);
    const lib = acquireModule(modulePath);
    let session: Handle | undefined;
    try {
      const slot = findSlot(lib, modulePath, tokenLabel);
      session = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
      try {
        lib.C_Login(session, p.CKU_USER, pin);
      } catch (err) {
        if (codeOf(err) !== p.CKR_USER_ALREADY_LOGGED_IN) {
          const code = PIN_REJECTED.has(codeOf(err)) ? 'config_invalid' : 'unavailable';
          throw new AppError(code, `PKCS#11 login to token "${tokenLabel}" failed: ${ckr(err)}`);
        }
      }
      const provider = new Pkcs11KeyProvider(lib, modulePath, tokenLabel, slot, session);
      if ((await provider.currentKekVersion()) === 0) await provider.rotateKek();
      return provider;
    } catch (err) {
      if (session !== undefined) closeQuietly(lib, session);
      releaseModule(modulePath);
      throw toAppError('open', err);
    }
  }

  async currentKekVersion(): Promise<number> {
    return this.#withSession((s) => this.#latestKek(s));
  }

  async wrap(dataKey: Buffer): Promise<WrappedKey> {
    assertDataKey(dataKey);
    return this.#withSession(async (s) => {
      const kekVersion = this.#latestKek(s);
      const [kek] = this.#keks(s, kekVersion);
      if (kek === undefined) throw new AppError('unavailable', 'the current KEK just disappeared');
      const value = { type: p.CKA_VALUE, value: dataKey };
      const temp = this.#lib.C_CreateObject(s, [...dataKeyTemplate(true), value]);
      const out = Buffer.alloc(dataKey.length + 16); // RFC 5649 adds at most 15 bytes
      const kwp = await this.#lib.C_WrapKeyAsync(s, KWP, kek, temp, out);
      this.#lib.C_DestroyObject(s, temp);
      const wrapped = Buffer.concat([encodeWrappedHeader('A256KWP', kekVersion), kwp]);
      return { kekVersion, wrapped, algorithm: 'A256KWP' };
    });
  }

  /** Tries every KEK carrying the blob's version label (see the class notes on rotation). */
  async unwrap(wrapped: WrappedKey): Promise<Buffer> {
    const payload = wrappedPayload(wrapped, 'A256KWP');
    return this.#withSession(async (s) => {
      const keks = this.#keks(s, wrapped.kekVersion);
      if (keks.length === 0) throw this.#missingKek(s, wrapped.kekVersion);
      for (const kek of keks) {
        let key: Handle;
        try {
          key = await this.#lib.C_UnwrapKeyAsync(s, KWP, kek, payload, dataKeyTemplate(false));
        } catch (err) {
          if (UNWRAP_REJECTED.has(codeOf(err))) continue;
          throw err;
        }
        const value = this.#attr(s, key, p.CKA_VALUE);
        this.#lib.C_DestroyObject(s, key);
        return value;
      }
      throw new AppError('integrity_error', 'wrapped key failed the RFC 5649 integrity check');
    });
  }

  async rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    return this.wrap(await this.unwrap(wrapped));
  }

  async rotateKek(): Promise<number> {
    return this.#withSession(async (s) => {
      const next = this.#latestKek(s) + 1;
      await this.#lib.C_GenerateKeyAsync(s, { mechanism: p.CKM_AES_KEY_GEN }, [
        { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
        { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
        { type: p.CKA_VALUE_LEN, value: 32 },
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_PRIVATE, value: true },
        { type: p.CKA_SENSITIVE, value: true },
        { type: p.CKA_EXTRACTABLE, value: false },
        { type: p.CKA_WRAP, value: true },
        { type: p.CKA_UNWRAP, value: true },
        { type: p.CKA_ENCRYPT, value: false },
        { type: p.CKA_DECRYPT, value: false },
        { type: p.CKA_MODIFIABLE, value: false },
        { type: p.CKA_LABEL, value: kekLabel(next) },
        { type: p.CKA_ID, value: randomBytes(16) },
      ]);
      this.#current = next;
      return next;
    });
  }

  async destroyKekVersion(version: number): Promise<void> {
    assertKekVersion(version);
    await this.#withSession((s) => {
      if (version >= this.#latestKek(s)) {
        throw new AppError('conflict', 'only KEK versions older than the current can be destroyed');
      }
      for (const kek of this.#keks(s, version)) this.#lib.C_DestroyObject(s, kek);
    });
  }

  async generateSigningKey(): Promise<SigningPublicKey> {
    const id = randomBytes(16);
    const common = [
      { type: p.CKA_KEY_TYPE, value: p.CKK_EC },
      { type: p.CKA_TOKEN, value: true },
      { type: p.CKA_LABEL, value: SIGNING_LABEL },
      { type: p.CKA_ID, value: id },
    ];
    const publicTemplate: Template = [
      ...common,
      { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
      { type: p.CKA_EC_PARAMS, value: P256_PARAMS },
      { type: p.CKA_VERIFY, value: true },
    ];
    const privateTemplate: Template = [
      ...common,
      { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
      { type: p.CKA_PRIVATE, value: true },
      { type: p.CKA_SENSITIVE, value: true },
      { type: p.CKA_EXTRACTABLE, value: false },
      { type: p.CKA_SIGN, value: true },
      { type: p.CKA_DERIVE, value: false },
    ];
    return this.#withSession(async (s) => {
      const mechanism = { mechanism: p.CKM_EC_KEY_PAIR_GEN };
      const pair = await this.#lib.C_GenerateKeyPairAsync(
        s,
        mechanism,
        publicTemplate,
        privateTemplate,
      );
      return toSigningPublicKey(id.toString('base64url'), this.#publicKey(s, pair.publicKey));
    });
  }

  async sign(keyId: string, data: Buffer): Promise<Buffer> {
    if (!Buffer.isBuffer(data)) throw new TypeError('data must be a Buffer');
    const digest = createHash('sha256').update(data).digest();
    return this.#withSession(async (s) => {
      const key = this.#signingObject(s, p.CKO_PRIVATE_KEY, keyId);
      this.#lib.C_SignInit(s, { mechanism: p.CKM_ECDSA }, key);
      const signature = await this.#lib.C_SignAsync(s, digest, Buffer.alloc(64));
      if (signature.length !== 64) throw new AppError('internal', 'token returned a bad signature');
      return signature;
    });
  }

  async getSigningPublicKey(keyId: string): Promise<SigningPublicKey> {
    return this.#withSession((s) => {
      const handle = this.#signingObject(s, p.CKO_PUBLIC_KEY, keyId);
      return toSigningPublicKey(keyId, this.#publicKey(s, handle));
    });
  }

  async listSigningKeys(): Promise<SigningPublicKey[]> {
    return this.#withSession((s) =>
      this.#find(s, labelled(p.CKO_PUBLIC_KEY, SIGNING_LABEL))
        .map((h) => {
          const keyId = this.#attr(s, h, p.CKA_ID).toString('base64url');
          return toSigningPublicKey(keyId, this.#publicKey(s, h));
        })
        .filter((key) => isSigningKeyId(key.keyId))
        .sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0)),
    );
  }

  describe(): KeyProviderDescription {
    return {
      kind: 'pkcs11',
      kekVersion: this.#current,
      wrapAlgorithm: 'A256KWP',
      modulePath: this.#modulePath,
      tokenLabel: this.#tokenLabel,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#lib, this.#loginSession);
    releaseModule(this.#modulePath);
  }

  /** Runs `task` in a fresh R/W session (logged in through the provider's login session). */
  async #withSession<T>(task: (session: Handle) => T | Promise<T>): Promise<T> {
    if (this.#closed) throw providerClosed();
    let session: Handle | undefined;
    try {
      session = this.#lib.C_OpenSession(this.#slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
      return await task(session);
    } catch (err) {
      throw toAppError('operation', err);
    } finally {
      if (session !== undefined) closeQuietly(this.#lib, session);
    }
  }

  #find(session: Handle, template: Template): Handle[] {
    this.#lib.C_FindObjectsInit(session, template);
    try {
      const found: Handle[] = [];
      for (let batch = this.#lib.C_FindObjects(session, 64); batch.length > 0;) {
        found.push(...batch);
        batch = this.#lib.C_FindObjects(session, 64);
      }
      return found;
    } finally {
      this.#lib.C_FindObjectsFinal(session);
    }
  }

  /** The highest KEK version on the token (0 when there is none). */
  #latestKek(session: Handle): number {
    const template = [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_TOKEN, value: true },
    ];
    let latest = 0;
    for (const h of this.#find(session, template)) {
      const match = KEK_LABEL_RE.exec(this.#attr(session, h, p.CKA_LABEL).toString('utf8'));
      if (match?.[1] !== undefined) latest = Math.max(latest, Number(match[1]));
    }
    this.#current = latest;
    return latest;
  }

  /** The KEKs labelled with `version`, lowest CKA_ID first (normally exactly one). */
  #keks(session: Handle, version: number): Handle[] {
    const found = this.#find(session, labelled(p.CKO_SECRET_KEY, kekLabel(version)));
    const withId = found.map((h) => ({ h, id: this.#attr(session, h, p.CKA_ID) }));
    return withId.sort((a, b) => Buffer.compare(a.id, b.id)).map(({ h }) => h);
  }

  /** Versions are created in order, so a missing one below the current was destroyed. */
  #missingKek(session: Handle, version: number): AppError {
    return version < this.#latestKek(session)
      ? new AppError('shredded', `KEK version ${version} was destroyed`)
      : new AppError('integrity_error', `no KEK version ${version}`);
  }

  #attr(session: Handle, handle: Handle, type: number): Buffer {
    const [attr] = this.#lib.C_GetAttributeValue(session, handle, [{ type }]);
    return Buffer.from(attr?.value ?? Buffer.alloc(0));
  }

  #signingObject(session: Handle, objectClass: number, keyId: string): Handle {
    if (!isSigningKeyId(keyId)) throw signingKeyNotFound();
    const template = [
      ...labelled(objectClass, SIGNING_LABEL),
      { type: p.CKA_ID, value: Buffer.from(keyId, 'base64url') },
    ];
    const [handle] = this.#find(session, template);
    if (handle === undefined) throw signingKeyNotFound();
    return handle;
  }

  /**
   * CKA_EC_POINT is the DER OCTET STRING of the X9.62 uncompressed point (PKCS#11 v2.40 Current
   * Mechanisms, EC public key objects); some modules return the bare point, so both are accepted.
   */
  #publicKey(session: Handle, handle: Handle): KeyObject {
    const der = this.#attr(session, handle, p.CKA_EC_POINT);
    const point = der.length === 67 && der[0] === 0x04 && der[1] === 0x41 ? der.subarray(2) : der;
    if (point.length !== 65 || point[0] !== 0x04) {
      throw new AppError('integrity_error', 'token returned a malformed P-256 public key');
    }
    const x = point.subarray(1, 33).toString('base64url');
    const y = point.subarray(33).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  }
}

/** A transient data-key object: session-only, extractable; sensitive while being wrapped. */
function dataKeyTemplate(sensitive: boolean): Template {
  return [
    { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
    { type: p.CKA_KEY_TYPE, value: p.CKK_GENERIC_SECRET },
    { type: p.CKA_TOKEN, value: false },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_EXTRACTABLE, value: true },
    { type: p.CKA_SENSITIVE, value: sensitive },
  ];
}

function labelled(objectClass: number, label: string): Template {
  return [
    { type: p.CKA_CLASS, value: objectClass },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_LABEL, value: label },
  ];
}

function findSlot(lib: PKCS11, modulePath: string, tokenLabel: string): Handle {
  const slots = lib
    .C_GetSlotList(true)
    .filter((s) => lib.C_GetTokenInfo(s).label.trim() === tokenLabel);
  const [slot] = slots;
  if (slot === undefined || slots.length > 1) {
    const why = slot === undefined ? 'not found' : 'not unique';
    throw new AppError('config_invalid', `PKCS#11 token "${tokenLabel}" ${why} in ${modulePath}`);
  }
  const available = new Set(lib.C_GetMechanismList(slot));
  for (const [name, mechanism] of Object.entries(REQUIRED_MECHANISMS)) {
    if (!available.has(mechanism)) {
      throw new AppError('config_invalid', `PKCS#11 token "${tokenLabel}" lacks ${name}`);
    }
  }
  return slot;
}

interface LoadedModule {
  readonly lib: PKCS11;
  refs: number;
  readonly initialized: boolean;
}
/** One entry per loaded module: PKCS#11 v2.40 allows one C_Initialize per process (until C_Finalize). */
const modules = new Map<string, LoadedModule>();

function acquireModule(modulePath: string): PKCS11 {
  const loaded = modules.get(modulePath);
  if (loaded !== undefined) {
    loaded.refs += 1;
    return loaded.lib;
  }
  const lib = new p.PKCS11();
  let initialized = true;
  try {
    lib.load(modulePath);
    lib.C_Initialize({ flags: p.CKF_OS_LOCKING_OK });
  } catch (err) {
    if (codeOf(err) !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw new AppError('config_invalid', `cannot load PKCS#11 module ${modulePath}: ${ckr(err)}`);
    }
    initialized = false; // someone else in this process owns C_Initialize/C_Finalize
  }
  modules.set(modulePath, { lib, refs: 1, initialized });
  return lib;
}

function releaseModule(modulePath: string): void {
  const loaded = modules.get(modulePath);
  if (loaded === undefined || --loaded.refs > 0) return;
  modules.delete(modulePath);
  try {
    if (loaded.initialized) loaded.lib.C_Finalize();
  } finally {
    loaded.lib.close();
  }
}

/** Closing can only fail when the session or device is already gone; nothing is left to undo. */
function closeQuietly(lib: PKCS11, session: Handle): void {
  try {
    lib.C_CloseSession(session);
  } catch {
    // already closed
  }
}

function codeOf(err: unknown): number {
  return err instanceof p.Pkcs11Error ? err.code : -1;
}

/** The CKR_ name of a PKCS#11 error; pkcs11js messages carry nothing else (never arguments). */
function ckr(err: unknown): string {
  return err instanceof p.Pkcs11Error ? err.message : 'native error';
}

function toAppError(what: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = UNAVAILABLE.has(codeOf(err)) ? 'unavailable' : 'internal';
  return new AppError(code, `PKCS#11 ${what} failed: ${ckr(err)}`, { cause: err });
}
