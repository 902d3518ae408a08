/** Local-provider specifics: file layout and modes, fail-fast checks, externally supplied KEKs. */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError, type AppError } from '../core/index.js';
import type { KeyProvider } from './key-provider.js';
import { LocalKeyProvider, type LocalKeyProviderOptions } from './local-key-provider.js';

let root: string;
let keyDir: string;
const opened: KeyProvider[] = [];

async function open(options: LocalKeyProviderOptions = { keyDir }): Promise<LocalKeyProvider> {
  const provider = await LocalKeyProvider.open(options);
  opened.push(provider);
  return provider;
}

async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAppError(err)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'scrip-local-kek-'));
  keyDir = join(root, 'data', 'keys');
});

afterEach(async () => {
  for (const provider of opened.splice(0)) await provider.close();
  await rm(root, { recursive: true, force: true });
});

describe('LocalKeyProvider key directory', () => {
  it('creates a 0700 directory with a 0600 32-byte kek-v1.key and keyring.json', async () => {
    await open();
    expect(await modeOf(keyDir)).toBe(0o700);
    expect((await readdir(keyDir)).sort()).toEqual(['kek-v1.key', 'keyring.json']);
    expect(await modeOf(join(keyDir, 'kek-v1.key'))).toBe(0o600);
    expect(await modeOf(join(keyDir, 'keyring.json'))).toBe(0o600);
    expect(await readFile(join(keyDir, 'kek-v1.key'))).toHaveLength(32);
    const meta: unknown = JSON.parse(await readFile(join(keyDir, 'keyring.json'), 'utf8'));
    expect(meta).toEqual({ format: 1, currentKekVersion: 1 });
  });

  it('writes rotated KEKs and signing keys as 0600 files, leaving no temp files', async () => {
    const provider = await open();
    await provider.rotateKek();
    const signer = await provider.generateSigningKey();
    const names = (await readdir(keyDir)).sort();
    expect(names).toEqual(
      ['kek-v1.key', 'kek-v2.key', 'keyring.json', `signing-${signer.keyId}.key`].sort(),
    );
    for (const name of names) expect(await modeOf(join(keyDir, name))).toBe(0o600);
  });

  it('refuses a key file readable by group or others, naming the file', async () => {
    await (await open()).close();
    const kekPath = join(keyDir, 'kek-v1.key');
    await chmod(kekPath, 0o640);
    const err = await appErrorOf(open());
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(kekPath);
    expect(err.message).toContain('0640');
  });

  it('refuses a key directory open to group or others', async () => {
    await (await open()).close();
    await chmod(keyDir, 0o750);
    const err = await appErrorOf(open());
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(keyDir);
  });

  it('refuses a KEK file of the wrong length', async () => {
    await (await open()).close();
    await writeFile(join(keyDir, 'kek-v1.key'), randomBytes(16), { mode: 0o600 });
    expect((await appErrorOf(open())).code).toBe('config_invalid');
  });

  it('recovers a first start that crashed before keyring.json was written', async () => {
    const first = await open();
    const dataKey = randomBytes(32);
    const wrapped = await first.wrap(dataKey);
    await unlink(join(keyDir, 'keyring.json'));
    const second = await open();
    expect(await second.unwrap(wrapped)).toEqual(dataKey);
    expect(await second.currentKekVersion()).toBe(1);
  });

  it('sees a rotation made by another process (e.g. the CLI)', async () => {
    const server = await open();
    const cli = await open();
    expect(await cli.rotateKek()).toBe(2);
    expect(await server.currentKekVersion()).toBe(2);
    expect((await server.wrap(randomBytes(32))).kekVersion).toBe(2);
    expect(await server.rotateKek()).toBe(3);
  });

  it('stores signing keys wrapped: no plaintext PKCS#8, and unwrap() will not open them', async () => {
    const provider = await open();
    const signer = await provider.generateSigningKey();
    const blob = await readFile(join(keyDir, `signing-${signer.keyId}.key`));
    expect(blob.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    // The P-256 PKCS#8 prefix (SEQUENCE, version 0, id-ecPublicKey) must not appear in clear.
    expect(blob.includes(Buffer.from('308187020100301306072a8648ce3d0201', 'hex'))).toBe(false);
    const asDataKey = { kekVersion: 1, wrapped: blob, algorithm: 'A256GCMKW' as const };
    expect((await appErrorOf(provider.unwrap(asDataKey))).code).toBe('integrity_error');
  });

  it('does not let a signing key file be swapped for another key id', async () => {
    const provider = await open();
    const a = await provider.generateSigningKey();
    const b = await provider.generateSigningKey();
    const fileA = join(keyDir, `signing-${a.keyId}.key`);
    await writeFile(fileA, await readFile(join(keyDir, `signing-${b.keyId}.key`)), { mode: 0o600 });
    const err = await appErrorOf(provider.sign(a.keyId, Buffer.from('x')));
    expect(err.code).toBe('integrity_error');
  });
});

describe('LocalKeyProvider with an externally supplied KEK', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');

  it('uses kekBase64 as version 1 and writes no KEK file', async () => {
    const provider = await open({ keyDir, kekBase64: k1 });
    expect(provider.describe()).toEqual({
      kind: 'local',
      kekVersion: 1,
      wrapAlgorithm: 'A256GCMKW',
      kekSource: 'external',
      keyDir,
    });
    const dataKey = randomBytes(32);
    expect(await provider.unwrap(await provider.wrap(dataKey))).toEqual(dataKey);
    await expect(readdir(keyDir)).rejects.toThrow(); // nothing written until a signing key exists
    expect(JSON.stringify(provider.describe())).not.toContain(k1);
  });

  it('refuses rotation and destruction, pointing the operator at previousKeks', async () => {
    const provider = await open({ keyDir, kekBase64: k1 });
    const err = await appErrorOf(provider.rotateKek());
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/kekVersion N\+1.*previousKeks/);
    expect((await appErrorOf(provider.destroyKekVersion(1))).code).toBe('conflict');
  });

  it('rotates by operator: new key as version 2, old one in previousKeks, then rewrap', async () => {
    const before = await open({ keyDir, kekBase64: k1 });
    const signer = await before.generateSigningKey();
    const dataKey = randomBytes(32);
    const old = await before.wrap(dataKey);

    const during = await open({
      keyDir,
      kekBase64: k2,
      kekVersion: 2,
      previousKeks: [{ version: 1, kekBase64: k1 }],
    });
    expect(await during.currentKekVersion()).toBe(2);
    const moved = await during.rewrap(old);
    expect(moved.kekVersion).toBe(2);
    expect((await during.sign(signer.keyId, Buffer.from('ok'))).length).toBe(64);

    const after = await open({ keyDir, kekBase64: k2, kekVersion: 2 });
    expect(await after.unwrap(moved)).toEqual(dataKey);
    expect((await appErrorOf(after.unwrap(old))).code).toBe('shredded');
  });

  it('reads kekFile (base64 text, 0600) and refuses one readable by others', async () => {
    const kekFile = join(root, 'kek.b64');
    await writeFile(kekFile, `${k1}\n`, { mode: 0o600 });
    const provider = await open({ keyDir, kekFile });
    const viaFile = await provider.wrap(randomBytes(32));
    const viaEnv = await open({ keyDir, kekBase64: k1 });
    expect(await viaEnv.unwrap(viaFile)).toHaveLength(32);

    await chmod(kekFile, 0o644);
    const err = await appErrorOf(open({ keyDir, kekFile }));
    expect(err.code).toBe('config_invalid');
    expect(err.message).toContain(kekFile);
  });

  it('refuses malformed external configuration without echoing key material', async () => {
    const short = randomBytes(16).toString('base64');
    const cases: LocalKeyProviderOptions[] = [
      { keyDir, kekBase64: short },
      { keyDir, kekBase64: 'not base64 at all!' },
      { keyDir, kekBase64: k1, kekFile: join(root, 'x') },
      { keyDir, kekBase64: k1, previousKeks: [{ version: 1, kekBase64: k2 }] },
      { keyDir, kekBase64: k1, previousKeks: [{ version: 2, kekBase64: k2 }] },
      { keyDir, previousKeks: [{ version: 1, kekBase64: k2 }] },
    ];
    for (const options of cases) {
      const err = await appErrorOf(open(options));
      expect(err.code).toBe('config_invalid');
      for (const secret of [short, k1, k2]) expect(err.message).not.toContain(secret);
    }
  });
});
