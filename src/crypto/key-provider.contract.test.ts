/**
 * One contract, two providers: every test in the first suite runs against `local` and against
 * `pkcs11` on a fresh SoftHSM2 token. A missing softhsm2 fails the pkcs11 half (never skips).
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Pkcs11Module from 'pkcs11js';
import type { PKCS11 } from 'pkcs11js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSoftHsmToken, type SoftHsmToken } from '../../test/softhsm.js';
import { isAppError, type ErrorCode } from '../core/index.js';
import { parseWrappedKey, type KeyProvider, type WrappedKey } from './key-provider.js';
import { LocalKeyProvider } from './local-key-provider.js';
import { Pkcs11KeyProvider } from './pkcs11-key-provider.js';

const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Module;

interface Fixture {
  open(): Promise<KeyProvider>;
  /** Strings that must never show up in `describe()` or errors. */
  secrets(): Promise<string[]>;
  cleanup(): Promise<void>;
}

interface Flavour {
  readonly kind: 'local' | 'pkcs11';
  readonly algorithm: string;
  readonly setup: () => Promise<Fixture>;
}

const flavours: Flavour[] = [
  {
    kind: 'local',
    algorithm: 'A256GCMKW',
    async setup() {
      const root = await mkdtemp(join(tmpdir(), 'scrip-keys-'));
      const keyDir = join(root, 'keys');
      return {
        open: () => LocalKeyProvider.open({ keyDir }),
        async secrets() {
          const kek = await readFile(join(keyDir, 'kek-v1.key'));
          return [kek.toString('base64'), kek.toString('base64url'), kek.toString('hex')];
        },
        cleanup: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
  {
    kind: 'pkcs11',
    algorithm: 'A256KWP',
    async setup() {
      const token = await createSoftHsmToken();
      const { modulePath, tokenLabel, pin } = token;
      return {
        open: () => Pkcs11KeyProvider.open({ modulePath, tokenLabel, pin }),
        secrets: () => Promise.resolve([token.pin, token.soPin]),
        cleanup: () => token.cleanup(),
      };
    },
  },
];

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await errorOf(promise);
  expect(isAppError(err) ? err.code : err).toBe(code);
}

function withByte(w: WrappedKey, index: number, xor: number): WrappedKey {
  const wrapped = Buffer.from(w.wrapped);
  wrapped[index] = (wrapped[index] ?? 0) ^ xor;
  return { ...w, wrapped };
}

function es256Verifies(key: { publicKey: KeyObject }, data: Buffer, sig: Buffer) {
  return verify('sha256', data, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, sig);
}

describe.each(flavours)('KeyProvider contract: $kind', ({ kind, algorithm, setup }) => {
  let fixture: Fixture | undefined;
  let provider: KeyProvider;
  const opened: KeyProvider[] = [];
  const open = async (): Promise<KeyProvider> => {
    if (fixture === undefined) throw new Error('no fixture');
    const p = await fixture.open();
    opened.push(p);
    return p;
  };

  beforeEach(async () => {
    fixture = await setup();
    provider = await open();
  });

  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close();
    await fixture?.cleanup();
    fixture = undefined;
  });

  it('reports its kind and starts at KEK version 1', async () => {
    expect(provider.kind).toBe(kind);
    expect(await provider.currentKekVersion()).toBe(1);
    expect(provider.describe()).toMatchObject({ kind, kekVersion: 1, wrapAlgorithm: algorithm });
  });

  it('round-trips random data keys', async () => {
    for (const size of [32, 32, 32, 16, 64]) {
      const dataKey = randomBytes(size);
      expect(await provider.unwrap(await provider.wrap(dataKey))).toEqual(dataKey);
    }
  });

  it('refuses data keys that are not 16..64-byte Buffers', async () => {
    await expect(provider.wrap(randomBytes(15))).rejects.toThrow(TypeError);
    await expect(provider.wrap(randomBytes(65))).rejects.toThrow(TypeError);
    await expect(provider.wrap('k'.repeat(32) as unknown as Buffer)).rejects.toThrow(TypeError);
  });

  it('produces a self-describing blob that neither equals nor contains the data key', async () => {
    const dataKey = randomBytes(32);
    const w = await provider.wrap(dataKey);
    expect(w).toMatchObject({ kekVersion: 1, algorithm });
    expect(parseWrappedKey(w.wrapped)).toEqual(w);
    expect(w.wrapped.equals(dataKey)).toBe(false);
    expect(w.wrapped.includes(dataKey)).toBe(false);
    expect(w.wrapped.includes(dataKey.subarray(0, 8))).toBe(false);
  });

  it('rejects tampered, truncated or mislabelled blobs with integrity_error', async () => {
    const w = await provider.wrap(randomBytes(32));
    const last = w.wrapped.length - 1;
    for (const index of [6, 7, 12, 20, Math.floor(last / 2), last]) {
      await expectCode(provider.unwrap(withByte(w, index, 0x01)), 'integrity_error');
    }
    await expectCode(provider.unwrap(withByte(w, 0, 0x01)), 'integrity_error'); // format
    await expectCode(provider.unwrap(withByte(w, 1, 0x03)), 'integrity_error'); // algorithm
    await expectCode(provider.unwrap(withByte(w, 5, 0x08)), 'integrity_error'); // version 9
    await expectCode(
      provider.unwrap({ ...w, wrapped: w.wrapped.subarray(0, 20) }),
      'integrity_error',
    );
    await expectCode(provider.unwrap({ ...w, kekVersion: 2 }), 'integrity_error');
    await provider.rotateKek();
    const relabelled = withByte(w, 5, 0x03); // header now names KEK version 2, which exists
    await expectCode(provider.unwrap({ ...relabelled, kekVersion: 2 }), 'integrity_error');
  });

  it('rotates the KEK: old blobs still unwrap and rewrap moves them to the new version', async () => {
    const dataKey = randomBytes(32);
    const old = await provider.wrap(dataKey);
    expect(await provider.rotateKek()).toBe(2);
    expect(await provider.currentKekVersion()).toBe(2);
    expect(provider.describe().kekVersion).toBe(2);
    expect(await provider.unwrap(old)).toEqual(dataKey);
    const moved = await provider.rewrap(old);
    expect(moved).toMatchObject({ kekVersion: 2, algorithm });
    expect(await provider.unwrap(moved)).toEqual(dataKey);
    expect((await provider.wrap(randomBytes(32))).kekVersion).toBe(2);
    expect(await provider.rotateKek()).toBe(3);
    expect((await provider.rewrap(moved)).kekVersion).toBe(3);
  });

  it('signs ES256 in IEEE P1363 form, verifiable with the exported public key', async () => {
    const key = await provider.generateSigningKey();
    expect(key).toMatchObject({
      algorithm: 'ES256',
      jwk: { kty: 'EC', crv: 'P-256', kid: key.keyId },
    });
    expect(key.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const data = Buffer.from('{"rx":"amoxicillin 500 mg"}');
    const signature = await provider.sign(key.keyId, data);
    expect(signature).toHaveLength(64);
    expect(es256Verifies(key, data, signature)).toBe(true);
    expect(es256Verifies(key, Buffer.from('{"rx":"amoxicillin 900 mg"}'), signature)).toBe(false);
    const fromJwk = createPublicKey({ key: { ...key.jwk }, format: 'jwk' });
    expect(es256Verifies({ publicKey: fromJwk }, data, signature)).toBe(true);
  });

  it('lists signing keys and answers not_found for unknown or malformed ids', async () => {
    expect(await provider.listSigningKeys()).toEqual([]);
    const a = await provider.generateSigningKey();
    const b = await provider.generateSigningKey();
    const ids = (await provider.listSigningKeys()).map((k) => k.keyId);
    expect(ids).toEqual([a.keyId, b.keyId].sort());
    expect((await provider.getSigningPublicKey(a.keyId)).jwk).toEqual(a.jwk);
    const unknown = randomBytes(16).toString('base64url');
    await expectCode(provider.sign(unknown, Buffer.from('x')), 'not_found');
    await expectCode(provider.getSigningPublicKey('../../etc/passwd'), 'not_found');
  });

  it('persists: a fresh instance over the same store sees the same keys', async () => {
    const dataKey = randomBytes(32);
    const v1 = await provider.wrap(dataKey);
    const signer = await provider.generateSigningKey();
    await provider.rotateKek();
    const v2 = await provider.wrap(dataKey);

    const second = await open();
    expect(await second.currentKekVersion()).toBe(2);
    expect(await second.unwrap(v1)).toEqual(dataKey);
    expect(await second.unwrap(v2)).toEqual(dataKey);
    expect(await provider.unwrap(await second.wrap(dataKey))).toEqual(dataKey);
    expect((await second.listSigningKeys()).map((k) => k.keyId)).toEqual([signer.keyId]);

    await provider.close(); // the second instance must not depend on the first
    const data = Buffer.from('persisted');
    expect(es256Verifies(signer, data, await second.sign(signer.keyId, data))).toBe(true);
    expect(await second.rotateKek()).toBe(3);
  });

  it('destroys old KEK versions (crypto-shredding) but never the current one', async () => {
    const dataKey = randomBytes(32);
    const old = await provider.wrap(dataKey);
    const signer = await provider.generateSigningKey(); // wrapped under v1 where applicable
    await expectCode(provider.destroyKekVersion(1), 'conflict');
    await provider.rotateKek();
    const moved = await provider.rewrap(old);
    await provider.destroyKekVersion(1);
    await expectCode(provider.unwrap(old), 'shredded');
    expect(await provider.unwrap(moved)).toEqual(dataKey);
    const data = Buffer.from('still signs');
    expect(es256Verifies(signer, data, await provider.sign(signer.keyId, data))).toBe(true);
    const fresh = await open();
    await expectCode(fresh.unwrap(old), 'shredded');
  });

  it('keeps secrets out of describe() and error messages', async () => {
    await provider.generateSigningKey();
    const secrets = await fixture!.secrets();
    const err = await errorOf(
      provider.unwrap(withByte(await provider.wrap(randomBytes(32)), 9, 1)),
    );
    const shown = JSON.stringify(provider.describe()) + String(err) + JSON.stringify(err);
    for (const secret of secrets) expect(shown).not.toContain(secret);
  });

  it('serves concurrent operations', async () => {
    const signer = await provider.generateSigningKey();
    const keys = Array.from({ length: 24 }, () => randomBytes(32));
    const round = await Promise.all(keys.map(async (k) => provider.unwrap(await provider.wrap(k))));
    expect(round).toEqual(keys);
    const data = keys.map((k) => k.subarray(0, 8));
    const sigs = await Promise.all(data.map((d) => provider.sign(signer.keyId, d)));
    for (const [i, sig] of sigs.entries()) {
      expect(es256Verifies(signer, data[i] ?? Buffer.alloc(0), sig)).toBe(true);
    }
  });

  it('refuses every operation after close() with unavailable', async () => {
    const w = await provider.wrap(randomBytes(32));
    await provider.close();
    await provider.close(); // idempotent
    await expectCode(provider.unwrap(w), 'unavailable');
    await expectCode(provider.wrap(randomBytes(32)), 'unavailable');
    await expectCode(provider.generateSigningKey(), 'unavailable');
    await expectCode(provider.rotateKek(), 'unavailable');
  });
});

describe('pkcs11 specifics', () => {
  let token: SoftHsmToken;
  const opened: KeyProvider[] = [];
  const open = async (pin = token.pin, tokenLabel = token.tokenLabel): Promise<KeyProvider> => {
    const p = await Pkcs11KeyProvider.open({ modulePath: token.modulePath, tokenLabel, pin });
    opened.push(p);
    return p;
  };

  beforeEach(async () => {
    token = await createSoftHsmToken();
  });

  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close();
    await (token as SoftHsmToken | undefined)?.cleanup(); // undefined if softhsm2 is missing
  });

  /** Inspects the token as an attacker holding the PIN would, through a separate PKCS#11 client. */
  function withClient<T>(use: (lib: PKCS11, session: Buffer) => T): T {
    const lib = new pkcs11js.PKCS11();
    lib.load(token.modulePath); // already initialised by the provider; this shares its state
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel);
    if (slot === undefined) throw new Error('token not visible');
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    try {
      return use(lib, session);
    } finally {
      lib.C_CloseSession(session);
      lib.close(); // dlclose only; the provider's own handle keeps the module loaded
    }
  }

  function findOne(lib: PKCS11, session: Buffer, objectClass: number, label: string): Buffer {
    lib.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: objectClass },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    const [handle] = lib.C_FindObjects(session, 2);
    lib.C_FindObjectsFinal(session);
    if (handle === undefined) throw new Error(`${label} not found`);
    return handle;
  }

  function codeOf(run: () => unknown): number | undefined {
    try {
      run();
    } catch (err) {
      return err instanceof pkcs11js.Pkcs11Error ? err.code : -1;
    }
    return undefined;
  }

  it('keeps the KEK and the signing private key sensitive and non-extractable', async () => {
    const provider = await open();
    await provider.generateSigningKey();
    withClient((lib, session) => {
      const kek = findOne(lib, session, pkcs11js.CKO_SECRET_KEY, 'scrip-kek-v1');
      const read = () => lib.C_GetAttributeValue(session, kek, [{ type: pkcs11js.CKA_VALUE }]);
      expect(codeOf(read)).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      const flags = lib.C_GetAttributeValue(session, kek, [
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
        { type: pkcs11js.CKA_ENCRYPT },
        { type: pkcs11js.CKA_DECRYPT },
      ]);
      expect(flags.map((a) => a.value[0])).toEqual([1, 0, 1, 1, 0, 0]);
      const wrapKek = () =>
        lib.C_WrapKey(
          session,
          { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD },
          kek,
          kek,
          Buffer.alloc(64),
        );
      expect(codeOf(wrapKek)).toBe(pkcs11js.CKR_KEY_UNEXTRACTABLE);

      const priv = findOne(lib, session, pkcs11js.CKO_PRIVATE_KEY, 'scrip-signing-key');
      const readPriv = () => lib.C_GetAttributeValue(session, priv, [{ type: pkcs11js.CKA_VALUE }]);
      expect(codeOf(readPriv)).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      const privFlags = lib.C_GetAttributeValue(session, priv, [
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SIGN },
      ]);
      expect(privFlags.map((a) => a.value[0])).toEqual([1, 0, 1]);
    });
  });

  it('leaves no data-key objects on the token', async () => {
    const provider = await open();
    await provider.unwrap(await provider.wrap(randomBytes(32)));
    withClient((lib, session) => {
      lib.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      ]);
      const all = lib.C_FindObjects(session, 16);
      lib.C_FindObjectsFinal(session);
      expect(all).toHaveLength(1); // scrip-kek-v1 only
    });
  });

  it('refuses a wrong PIN with config_invalid, without echoing it', async () => {
    const wrongPin = `${token.pin}-wrong`;
    const err = await errorOf(open(wrongPin));
    expect(isAppError(err) && err.code).toBe('config_invalid');
    expect(String(err) + JSON.stringify(err)).not.toContain(wrongPin);
    await open(); // the module was released cleanly and can be used again
  });

  it('refuses an unknown token label with config_invalid', async () => {
    await expectCode(open(token.pin, 'no-such-token'), 'config_invalid');
  });

  it('describes the module and token, never the PIN', async () => {
    const provider = await open();
    expect(provider.describe()).toEqual({
      kind: 'pkcs11',
      kekVersion: 1,
      wrapAlgorithm: 'A256KWP',
      modulePath: token.modulePath,
      tokenLabel: token.tokenLabel,
    });
  });
});
