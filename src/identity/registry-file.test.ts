import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toJwk } from '../crypto/jws.js';
import { loadRegistryPublicKey, verifyRegistryFile } from './registry-file.js';
import { payloadFor, practitioner, registryKey } from '../../test/identity/registry-fixture.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

const people = [practitioner('Lovelace', '123456789', '123456')];

describe('signed registry file', () => {
  it('verifies a file signed by the operator key and returns its records', async () => {
    const key = registryKey();
    const text = await key.sign(payloadFor(people));
    const v = verifyRegistryFile(text, key.publicKey);
    expect(v.kid).toBe('registry-test');
    expect(v.payload.dea[0]?.deaNumber).toBe(people[0]?.dea);
  });

  it('refuses a tampered record, a wrong key, an unsigned file and a non-ES256 header', async () => {
    const key = registryKey();
    const text = await key.sign(payloadFor(people));
    const doc = JSON.parse(text) as {
      payload: { dea: { expiresOn: string }[] };
      signature: string;
    };
    const tampered = structuredClone(doc);
    const first = tampered.payload.dea[0];
    if (first !== undefined) first.expiresOn = '2099-12-31';
    expect(thrown(() => verifyRegistryFile(JSON.stringify(tampered), key.publicKey))).toMatchObject(
      { code: 'integrity_error', detail: 'bad_signature' },
    );
    expect(thrown(() => verifyRegistryFile(text, registryKey().publicKey))).toMatchObject({
      code: 'integrity_error',
      detail: 'bad_signature',
    });
    expect(
      thrown(() => verifyRegistryFile(JSON.stringify({ payload: doc.payload }), key.publicKey)),
    ).toMatchObject({ detail: 'unsigned' });
    const [, , sig] = doc.signature.split('.');
    const noneHeader = Buffer.from('{"alg":"none","typ":"scrip-registry+jws"}').toString(
      'base64url',
    );
    expect(
      thrown(() =>
        verifyRegistryFile(
          JSON.stringify({ ...doc, signature: `${noneHeader}..${sig ?? ''}` }),
          key.publicKey,
        ),
      ),
    ).toMatchObject({ detail: 'alg_not_allowed' });
    expect(thrown(() => verifyRegistryFile('not json', key.publicKey))).toMatchObject({
      detail: 'malformed',
    });
  });

  it('refuses a signed record whose identifiers fail their check digits', async () => {
    const key = registryKey();
    const bad = payloadFor([
      { ...practitioner('Lovelace', '123456789', '123456'), npi: '1234567890' },
    ]);
    const text = await key.sign(bad);
    expect(thrown(() => verifyRegistryFile(text, key.publicKey))).toMatchObject({
      code: 'validation_failed',
      detail: 'npi[0]',
    });
  });

  it('loads the operator key as PEM, JWK or JWK Set', async () => {
    const key = registryKey();
    const text = await key.sign(payloadFor(people));
    const dir = mkdtempSync(join(tmpdir(), 'scrip-registry-'));
    const jwk = toJwk(key.publicKey, 'registry-test');
    const files = {
      pem: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      jwk: JSON.stringify(jwk),
      jwks: JSON.stringify({ keys: [jwk] }),
    };
    for (const [name, content] of Object.entries(files)) {
      const path = join(dir, name);
      writeFileSync(path, content);
      expect(verifyRegistryFile(text, loadRegistryPublicKey(path)).kid, name).toBe('registry-test');
    }
    const rsaPath = join(dir, 'private');
    writeFileSync(rsaPath, JSON.stringify({ ...jwk, d: 'AAAA' }));
    expect(thrown(() => loadRegistryPublicKey(rsaPath))).toMatchObject({ detail: 'bad_jwk' });
  });
});
