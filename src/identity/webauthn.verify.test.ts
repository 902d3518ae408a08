import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  challengeOf,
  verifyAssertion,
  verifyRegistration,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  type RelyingParty,
  type StoredCredential,
} from './webauthn.verify.js';

interface Section {
  anchor: string;
  blocks: {
    registration: {
      challenge: string;
      credential_id: string;
      clientDataJSON: string;
      attestationObject: string;
    };
    authentication: {
      challenge: string;
      authenticatorData: string;
      clientDataJSON: string;
      signature: string;
    };
  };
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/webauthn_l3_test_vectors.json');
const data = JSON.parse(readFileSync(file, 'utf8')) as {
  common: { rpId: string; origin: string };
  sections: Section[];
};
const rp: RelyingParty = { rpId: data.common.rpId, origins: [data.common.origin] };
const b64u = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');

function section(name: string): Section {
  const s = data.sections.find((x) => x.anchor === `sctn-test-vectors-${name}`);
  if (s === undefined) throw new Error(`vector ${name} missing`);
  return s;
}

function registrationOf(s: Section): RegistrationResponseJSON {
  const r = s.blocks.registration;
  return {
    id: b64u(r.credential_id),
    rawId: b64u(r.credential_id),
    type: 'public-key',
    clientExtensionResults: {},
    response: {
      clientDataJSON: b64u(r.clientDataJSON),
      attestationObject: b64u(r.attestationObject),
    },
  };
}

function assertionOf(s: Section): AuthenticationResponseJSON {
  const a = s.blocks.authentication;
  const id = b64u(s.blocks.registration.credential_id);
  return {
    id,
    rawId: id,
    type: 'public-key',
    clientExtensionResults: {},
    response: {
      clientDataJSON: b64u(a.clientDataJSON),
      authenticatorData: b64u(a.authenticatorData),
      signature: b64u(a.signature),
    },
  };
}

/** Registers the vector's credential (UV not demanded) and returns it as stored. */
async function stored(s: Section): Promise<StoredCredential> {
  const r = await verifyRegistration(
    rp,
    registrationOf(s),
    b64u(s.blocks.registration.challenge),
    false,
  );
  if (!r.ok) throw new Error(`registration of ${s.anchor} failed: ${r.reason}`);
  return r.credential;
}

describe('WebAuthn L3 test vectors (../shared/vectors/webauthn_l3_test_vectors.json)', () => {
  it('none-es256: the attestation verifies, but UV is unset, so it is refused where UV is required', async () => {
    const s = section('none-es256');
    const challenge = b64u(s.blocks.registration.challenge);
    expect(challengeOf(registrationOf(s).response.clientDataJSON)).toBe(challenge);
    const relaxed = await verifyRegistration(rp, registrationOf(s), challenge, false);
    expect(relaxed.ok).toBe(true);
    if (!relaxed.ok) return;
    expect(relaxed.credential.format).toBe('none');
    expect(relaxed.credential.aaguid).toBe('8446ccb9-ab1d-b374-750b-2367ff6f3a1f');
    expect(relaxed.credential.credentialId.toString('hex')).toBe(
      s.blocks.registration.credential_id,
    );
    expect(relaxed.credential.userVerified).toBe(false);
    expect(relaxed.credential.backupEligible).toBe(true);
    expect(relaxed.credential.backedUp).toBe(true);
    expect(await verifyRegistration(rp, registrationOf(s), challenge, true)).toEqual({
      ok: false,
      reason: 'user_verification_required',
    });
  });

  it('none-es256: the basic assertion (flags 0x19: UP, BE, BS, no UV) is refused where UV is required', async () => {
    const s = section('none-es256');
    const cred = await stored(s);
    const assertion = assertionOf(s);
    const challenge = b64u(s.blocks.authentication.challenge);
    expect(Buffer.from(assertion.response.authenticatorData, 'base64url')[32]).toBe(0x19);
    expect(await verifyAssertion(rp, assertion, challenge, cred, true)).toEqual({
      ok: false,
      reason: 'user_verification_required',
    });
    // The signature itself is sound: as a possession factor (after a password) it verifies.
    expect(await verifyAssertion(rp, assertion, challenge, cred, false)).toMatchObject({
      ok: true,
      signCount: 0,
      userVerified: false,
    });
  });

  it('packed-es256: packed attestation and an assertion with UV set verify with UV required', async () => {
    const s = section('packed-es256');
    const challenge = b64u(s.blocks.registration.challenge);
    const r = await verifyRegistration(rp, registrationOf(s), challenge, true);
    expect(r).toMatchObject({ ok: true, credential: { format: 'packed', userVerified: true } });
    if (!r.ok) return;
    const a = await verifyAssertion(
      rp,
      assertionOf(s),
      b64u(s.blocks.authentication.challenge),
      r.credential,
      true,
    );
    expect(a).toMatchObject({ ok: true, userVerified: true });
  });

  it('packed-self-es256: self attestation verifies; its assertion (no UV) is refused where UV is required', async () => {
    const s = section('packed-self-es256');
    const cred = await stored(s);
    expect(
      await verifyAssertion(
        rp,
        assertionOf(s),
        b64u(s.blocks.authentication.challenge),
        cred,
        true,
      ),
    ).toEqual({ ok: false, reason: 'user_verification_required' });
  });

  it('refuses a wrong challenge, origin, RP id, signature or credential', async () => {
    const s = section('packed-es256');
    const cred = await stored(s);
    const challenge = b64u(s.blocks.authentication.challenge);
    const other = b64u(s.blocks.registration.challenge);
    const bad = { ok: false, reason: 'invalid' };
    expect(await verifyAssertion(rp, assertionOf(s), other, cred, true)).toEqual(bad);
    expect(
      await verifyAssertion(
        { ...rp, origins: ['https://example.com'] },
        assertionOf(s),
        challenge,
        cred,
        true,
      ),
    ).toEqual(bad);
    expect(
      await verifyAssertion({ ...rp, rpId: 'example.com' }, assertionOf(s), challenge, cred, true),
    ).toEqual(bad);
    const tampered = assertionOf(s);
    const sig = Buffer.from(tampered.response.signature, 'base64url');
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
    tampered.response.signature = sig.toString('base64url');
    expect(await verifyAssertion(rp, tampered, challenge, cred, true)).toEqual(bad);
    const foreign = await stored(section('none-es256'));
    expect(await verifyAssertion(rp, assertionOf(s), challenge, foreign, true)).toEqual(bad);
    expect(
      await verifyRegistration(rp, registrationOf(s), challenge /* the get challenge */, true),
    ).toEqual(bad);
  });

  it('flags a signature counter that does not grow', async () => {
    const s = section('packed-es256');
    const cred = { ...(await stored(s)), signCount: 5 };
    // The vector's assertion reports counter 0 against a stored 5.
    expect(
      await verifyAssertion(
        rp,
        assertionOf(s),
        b64u(s.blocks.authentication.challenge),
        cred,
        true,
      ),
    ).toEqual({ ok: false, reason: 'counter_regression', signCount: 0 });
  });

  it('challengeOf refuses malformed client data', () => {
    expect(challengeOf('not-json')).toBeUndefined();
    expect(challengeOf(Buffer.from('{"challenge":1}').toString('base64url'))).toBeUndefined();
    expect(challengeOf(Buffer.from('null').toString('base64url'))).toBeUndefined();
  });
});
