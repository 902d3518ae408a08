import { createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../core/index.js';
import { aesGcmDecryptWithNonce, aesGcmSeal, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
import {
  assertDataKey,
  assertKekVersion,
  encodeWrappedHeader,
  isSigningKeyId,
  parseWrappedKey,
  providerClosed,
  signingKeyNotFound,
  toSigningPublicKey,
  wrappedPayload,
  WRAPPED_HEADER_LENGTH,
  type KeyProvider,
  type KeyProviderDescription,
  type SigningPublicKey,
  type WrappedKey,
} from './key-provider.js';

/** Default key directory, relative to the working directory (ARCHITECTURE.md "Runtime shape"). */
export const DEFAULT_KEY_DIR = './data/keys';

/** One externally supplied KEK: base64 of 32 bytes, given inline or in a file (mode 0600/0400). */
export interface ExternalKek {
  readonly version: number;
  readonly kekBase64?: string;
  readonly kekFile?: string;
}

/**
 * Options for {@link LocalKeyProvider.open}.
 *
 * Without `kekBase64`/`kekFile` the provider manages its KEKs in `keyDir` (`kek-v<N>.key`, 32 raw
 * bytes, 0600, plus `keyring.json` naming the current version) and `rotateKek()` works.
 * With them (containers, secret managers) the operator supplies the KEK: it is version `kekVersion`
 * (default 1) and `rotateKek()` is refused with `conflict`. The operator rotates by supplying the
 * new key as `kekVersion: N + 1` with the old one moved into `previousKeks` (so data keys under it
 * still unwrap), restarting, re-wrapping every data key, then dropping the old key.
 * Signing keys are always stored in `keyDir` (`signing-<keyId>.key`), wrapped by the KEK.
 */
export interface LocalKeyProviderOptions {
  readonly keyDir?: string;
  readonly kekBase64?: string;
  readonly kekFile?: string;
  readonly kekVersion?: number;
  readonly previousKeks?: readonly ExternalKek[];
}

const KEK_BYTES = 32;
const META_FILE = 'keyring.json';
const KEK_FILE_RE = /^kek-v(\d+)\.key$/;
const SIGNING_FILE_RE = /^signing-([A-Za-z0-9_-]{22})\.key$/;
/** GCM AAD purposes: a wrapped signing key can never be passed off as a wrapped data key. */
const DATA_KEY_PURPOSE = 'scrip/kek/data-key/v1';
const signingPurpose = (keyId: string): string => `scrip/kek/signing-key/v1/${keyId}`;
const kekFileName = (version: number): string => `kek-v${version}.key`;
const signingFileName = (keyId: string): string => `signing-${keyId}.key`;

/**
 * KEKs on the local file system. Wrapping is AES-256-GCM through aes-gcm.ts (NIST SP 800-38D:
 * random 96-bit nonce, 128-bit tag) with AAD = blob header (format, algorithm, KEK version) and a
 * purpose string; blob = header(6) || nonce(12) || ciphertext || tag(16). A signing key file is
 * its PKCS#8 private key wrapped the same way (purpose bound to the key id), so the public key is
 * authenticated too. Key files and the directory are refused when group/other have any access.
 * Rotation and destruction are safe across processes (no-clobber `link`); a lost race answers
 * `conflict` and the caller retries.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local' as const;
  readonly #keyDir: string;
  readonly #external: boolean;
  readonly #keks = new Map<number, Buffer>();
  #current: number;
  #closed = false;

  private constructor(keyDir: string, external: boolean, current: number) {
    this.#keyDir = keyDir;
    this.#external = external;
    this.#current = current;
  }

  /** Opens the key store; on first use creates it, fsyncing the files and the directory. */
  static async open(options: LocalKeyProviderOptions = {}): Promise<LocalKeyProvider> {
    const keyDir = resolve(options.keyDir ?? DEFAULT_KEY_DIR);
    if (options.kekBase64 === undefined && options.kekFile === undefined) {
      if (options.kekVersion !== undefined || options.previousKeks !== undefined) {
        throw new AppError('config_invalid', 'kekVersion/previousKeks need kekBase64 or kekFile');
      }
      await ensureKeyDir(keyDir);
      const provider = new LocalKeyProvider(keyDir, false, await bootstrap(keyDir));
      await provider.#currentKek(); // fail fast on a missing, short or over-readable key file
      return provider;
    }
    const provider = new LocalKeyProvider(keyDir, true, options.kekVersion ?? 1);
    for (const [version, kek] of await loadExternalKeks(options)) provider.#keks.set(version, kek);
    return provider;
  }

  async currentKekVersion(): Promise<number> {
    this.#assertOpen();
    if (!this.#external) this.#current = (await readMeta(this.#keyDir)) ?? this.#current;
    return this.#current;
  }

  async wrap(dataKey: Buffer): Promise<WrappedKey> {
    assertDataKey(dataKey);
    return this.#seal(dataKey, DATA_KEY_PURPOSE);
  }

  async unwrap(wrapped: WrappedKey): Promise<Buffer> {
    return this.#open(wrapped, DATA_KEY_PURPOSE);
  }

  async rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    return this.wrap(await this.unwrap(wrapped));
  }

  async rotateKek(): Promise<number> {
    this.#refuseIfExternal('the operator rotates: new key as kekVersion N+1, the old one in');
    const next = Math.max(await this.currentKekVersion(), ...(await kekVersions(this.#keyDir))) + 1;
    const kek = randomBytes(KEK_BYTES);
    if (!(await writeDurable(this.#keyDir, kekFileName(next), kek, true))) {
      throw new AppError('conflict', `KEK version ${next} already exists; retry the rotation`);
    }
    await writeMeta(this.#keyDir, next);
    this.#keks.set(next, kek);
    this.#current = next;
    return next;
  }

  /** Also re-wraps the signing keys still under `version`, so they survive its destruction. */
  async destroyKekVersion(version: number): Promise<void> {
    assertKekVersion(version);
    this.#refuseIfExternal('the operator destroys a version by dropping it from');
    if (version >= (await this.currentKekVersion())) {
      throw new AppError('conflict', 'only KEK versions older than the current can be destroyed');
    }
    for (const keyId of await this.#signingKeyIds()) {
      const old = await this.#signingBlob(keyId);
      if (old.kekVersion !== version) continue;
      const pkcs8 = await this.#open(old, signingPurpose(keyId));
      const fresh = await this.#seal(pkcs8, signingPurpose(keyId));
      pkcs8.fill(0);
      await writeDurable(this.#keyDir, signingFileName(keyId), fresh.wrapped, false);
    }
    this.#keks.get(version)?.fill(0);
    this.#keks.delete(version);
    await fs.unlink(join(this.#keyDir, kekFileName(version))).catch(ignoreCode('ENOENT'));
    await fsyncDir(this.#keyDir);
  }

  async generateSigningKey(): Promise<SigningPublicKey> {
    this.#assertOpen();
    await ensureKeyDir(this.#keyDir);
    const keyId = randomBytes(16).toString('base64url');
    const pair = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const wrapped = await this.#seal(pkcs8, signingPurpose(keyId));
    pkcs8.fill(0);
    await writeDurable(this.#keyDir, signingFileName(keyId), wrapped.wrapped, true);
    return toSigningPublicKey(keyId, pair.publicKey);
  }

  async sign(keyId: string, data: Buffer): Promise<Buffer> {
    if (!Buffer.isBuffer(data)) throw new TypeError('data must be a Buffer');
    const key = await this.#signingKey(keyId);
    return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  }

  async getSigningPublicKey(keyId: string): Promise<SigningPublicKey> {
    return toSigningPublicKey(keyId, await this.#signingKey(keyId));
  }

  async listSigningKeys(): Promise<SigningPublicKey[]> {
    return Promise.all((await this.#signingKeyIds()).map((id) => this.getSigningPublicKey(id)));
  }

  describe(): KeyProviderDescription {
    const kekSource = this.#external ? 'external' : 'directory';
    return {
      kind: 'local',
      kekVersion: this.#current,
      wrapAlgorithm: 'A256GCMKW',
      kekSource,
      keyDir: this.#keyDir,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const kek of this.#keks.values()) kek.fill(0);
    this.#keks.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw providerClosed();
  }

  #refuseIfExternal(advice: string): void {
    this.#assertOpen();
    if (this.#external) {
      throw new AppError('conflict', `the KEK is supplied externally; ${advice} previousKeks`);
    }
  }

  async #kek(version: number): Promise<Buffer | undefined> {
    this.#assertOpen();
    const cached = this.#keks.get(version);
    if (cached !== undefined || this.#external) return cached;
    const path = join(this.#keyDir, kekFileName(version));
    const bytes = await readKeyFile(path).catch(ignoreCode('ENOENT'));
    if (bytes !== undefined && bytes.length !== KEK_BYTES) {
      throw new AppError('config_invalid', `key file ${path} is not a 32-byte key`);
    }
    if (bytes !== undefined) this.#keks.set(version, bytes);
    return bytes;
  }

  async #currentKek(): Promise<[number, Buffer]> {
    const version = await this.currentKekVersion();
    const kek = await this.#kek(version);
    if (kek !== undefined) return [version, kek];
    throw new AppError('config_invalid', `current KEK ${kekFileName(version)} is missing`);
  }

  async #seal(plaintext: Buffer, purpose: string): Promise<WrappedKey> {
    const [kekVersion, kek] = await this.#currentKek();
    const header = encodeWrappedHeader('A256GCMKW', kekVersion);
    const sealed = aesGcmSeal(kek, plaintext, { aad: gcmAad(header, purpose) });
    const wrapped = Buffer.concat([header, sealed.nonce, sealed.ciphertext, sealed.tag]);
    return { kekVersion, wrapped, algorithm: 'A256GCMKW' };
  }

  async #open(w: WrappedKey, purpose: string): Promise<Buffer> {
    this.#assertOpen();
    const payload = wrappedPayload(w, 'A256GCMKW');
    const end = payload.length - GCM_TAG_BYTES;
    if (end <= GCM_NONCE_BYTES) throw new AppError('integrity_error', 'wrapped key is truncated');
    const kek = await this.#kek(w.kekVersion);
    if (kek === undefined) throw await this.#missingKek(w.kekVersion);
    const aad = gcmAad(w.wrapped.subarray(0, WRAPPED_HEADER_LENGTH), purpose);
    const nonce = payload.subarray(0, GCM_NONCE_BYTES);
    const body = payload.subarray(GCM_NONCE_BYTES, end);
    return aesGcmDecryptWithNonce(kek, nonce, body, payload.subarray(end), aad);
  }

  /** Versions are created in order, so a missing one below the current was destroyed. */
  async #missingKek(version: number): Promise<AppError> {
    return version < (await this.currentKekVersion())
      ? new AppError('shredded', `KEK version ${version} was destroyed`)
      : new AppError('integrity_error', `no KEK version ${version}`);
  }

  async #signingKey(keyId: string): Promise<KeyObject> {
    const pkcs8 = await this.#open(await this.#signingBlob(keyId), signingPurpose(keyId));
    try {
      return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    } finally {
      pkcs8.fill(0);
    }
  }

  async #signingBlob(keyId: string): Promise<WrappedKey> {
    this.#assertOpen();
    if (!isSigningKeyId(keyId)) throw signingKeyNotFound();
    const path = join(this.#keyDir, signingFileName(keyId));
    const bytes = await readKeyFile(path).catch(ignoreCode('ENOENT'));
    if (bytes === undefined) throw signingKeyNotFound();
    return parseWrappedKey(bytes);
  }

  async #signingKeyIds(): Promise<string[]> {
    this.#assertOpen();
    const names = (await fs.readdir(this.#keyDir).catch(ignoreCode('ENOENT'))) ?? [];
    return names.flatMap((name) => SIGNING_FILE_RE.exec(name)?.[1] ?? []).sort();
  }
}

/** GCM AAD (NIST SP 800-38D §7.1 "A"): the blob header, then the purpose string. */
function gcmAad(header: Buffer, purpose: string): Buffer {
  return Buffer.concat([header, Buffer.from(purpose, 'utf8')]);
}

/** `.catch(ignoreCode('ENOENT'))`: turns that one errno into `undefined`, rethrows the rest. */
function ignoreCode(code: string): (err: unknown) => undefined {
  return (err) => {
    if ((err as NodeJS.ErrnoException | null)?.code === code) return undefined;
    throw err;
  };
}

async function withHandle<T>(
  path: string,
  flags: string | number,
  use: (handle: fs.FileHandle) => Promise<T>,
): Promise<T> {
  const handle = await fs.open(path, flags, 0o600);
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

function badMode(what: string, path: string, mode: number, want: string): AppError {
  const found = `0${(mode & 0o777).toString(8)}`;
  return new AppError('config_invalid', `${what} ${path} must have mode ${want} (found ${found})`);
}

async function ensureKeyDir(dir: string): Promise<void> {
  const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await fsyncDir(dirname(created));
  const info = await fs.stat(dir);
  if (!info.isDirectory() || (info.mode & 0o077) !== 0) {
    throw badMode('key directory', dir, info.mode, '0700');
  }
}

/** Reads a key file, refusing one that group or others may access (checked on the open fd). */
async function readKeyFile(path: string): Promise<Buffer> {
  return withHandle(path, fsc.O_RDONLY, async (handle) => {
    const info = await handle.stat();
    if (!info.isFile() || (info.mode & 0o077) !== 0) {
      throw badMode('key file', path, info.mode, '0600');
    }
    return handle.readFile();
  });
}

/**
 * Writes `name` in `dir` durably: temp file (0600) + fsync, then `link` (no clobber; returns
 * false when the name exists) or `rename` (replace), then fsync of the directory.
 */
async function writeDurable(
  dir: string,
  name: string,
  data: Buffer,
  noClobber: boolean,
): Promise<boolean> {
  const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  await withHandle(tmp, 'wx', async (handle) => {
    await handle.writeFile(data);
    await handle.sync();
  });
  const target = join(dir, name);
  try {
    const written = noClobber
      ? await fs.link(tmp, target).then(() => true, ignoreCode('EEXIST'))
      : await fs.rename(tmp, target).then(() => true);
    await fsyncDir(dir);
    return written === true;
  } finally {
    await fs.unlink(tmp).catch(ignoreCode('ENOENT'));
  }
}

async function fsyncDir(dir: string): Promise<void> {
  await withHandle(dir, fsc.O_RDONLY | fsc.O_DIRECTORY, (handle) => handle.sync());
}

async function kekVersions(dir: string): Promise<number[]> {
  return (await fs.readdir(dir)).flatMap((name) => {
    const version = KEK_FILE_RE.exec(name)?.[1];
    return version === undefined ? [] : [Number(version)];
  });
}

async function readMeta(dir: string): Promise<number | undefined> {
  const bytes = await readKeyFile(join(dir, META_FILE)).catch(ignoreCode('ENOENT'));
  if (bytes === undefined) return undefined;
  let meta: { format?: unknown; currentKekVersion?: unknown } | undefined;
  try {
    meta = JSON.parse(bytes.toString('utf8')) as typeof meta;
  } catch {
    // reported below
  }
  const version = meta?.format === 1 ? meta.currentKekVersion : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version >= 1) return version;
  throw new AppError('config_invalid', `${join(dir, META_FILE)} is malformed`);
}

async function writeMeta(dir: string, currentKekVersion: number): Promise<void> {
  const json = `${JSON.stringify({ format: 1, currentKekVersion })}\n`;
  await writeDurable(dir, META_FILE, Buffer.from(json, 'utf8'), false);
}

/** First use creates `kek-v1.key`; a crash before `keyring.json` was written is recovered here. */
async function bootstrap(dir: string): Promise<number> {
  const current = await readMeta(dir);
  if (current !== undefined) return current;
  const versions = await kekVersions(dir);
  if (versions.length === 0) {
    // A concurrent first start may win the link; its key is then the one used.
    await writeDurable(dir, kekFileName(1), randomBytes(KEK_BYTES), true);
    versions.push(1);
  }
  const latest = Math.max(...versions);
  await writeMeta(dir, latest);
  return latest;
}

async function loadExternalKeks(options: LocalKeyProviderOptions): Promise<Map<number, Buffer>> {
  const current: ExternalKek = { ...options, version: options.kekVersion ?? 1 };
  const keks = new Map<number, Buffer>();
  for (const { version, kekBase64, kekFile } of [current, ...(options.previousKeks ?? [])]) {
    const bad = (why: string): AppError =>
      new AppError('config_invalid', `external KEK version ${version}: ${why}`);
    if (!Number.isInteger(version) || version < 1 || version > current.version) {
      throw bad('previous versions must be older than the current one');
    }
    if (keks.has(version) || (kekBase64 === undefined) === (kekFile === undefined)) {
      throw bad('give each version once, as kekBase64 or kekFile');
    }
    const text = (
      kekFile === undefined ? kekBase64 : (await readKeyFile(kekFile)).toString()
    )?.trim();
    if (text === undefined || !/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
      throw bad(`${kekFile ?? 'kekBase64'} must hold 32 bytes in base64`);
    }
    keks.set(version, Buffer.from(text, 'base64'));
  }
  return keks;
}
