import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type JsonWebKey,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  buildJwks,
  importEs256Jwk,
  localEs256Signer,
  signCompactJws,
  toJwk,
  verifyCompactJws,
  type Jwks,
} from './jws.js';

interface JwsExample {
  section: string;
  alg: string;
  jwk: Record<string, string>;
  protected: string;
  payload: string;
  signature: string;
  compact: string;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/rfc7515_jws.json');
const examples = (JSON.parse(readFileSync(file, 'utf8')) as { examples: JwsExample[] }).examples;

function example(section: string): JwsExample {
  const found = examples.find((e) => e.section === section);
  if (found === undefined) throw new Error(`rfc7515_jws.json has no ${section}`);
  expect(found.compact).toBe(`${found.protected}.${found.payload}.${found.signature}`);
  return found;
}

const a1 = example('A.1');
const a3 = example('A.3');
const a4 = example('A.4');
const publicJwk = (jwk: Record<string, string>): JsonWebKey =>
  Object.fromEntries(Object.entries(jwk).filter(([name]) => name !== 'd'));
const a3PublicKey = createPublicKey({ key: publicJwk(a3.jwk), format: 'jwk' });
const a4PublicKey = createPublicKey({ key: publicJwk(a4.jwk), format: 'jwk' });

function rejectDetail(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('integrity_error');
    return (err as AppError).detail;
  }
  throw new Error('expected verification to fail');
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
const flipChar = (s: string, i: number): string =>
  s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);

describe('RFC 7515 Appendix A vectors (../shared/vectors/rfc7515_jws.json)', () => {
  it('A.3 ES256 verifies with the KeyObject and returns the CRLF payload bytes', () => {
    const { header, payload } = verifyCompactJws(a3.compact, a3PublicKey);
    expect(header).toEqual({ alg: 'ES256' });
    expect(payload.toString('utf8')).toBe(
      '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}',
    );
  });

  it('A.3 verifies through a JWKS once its header names the kid; without one it does not', () => {
    const jwks: Jwks = { keys: [{ ...publicJwk(a3.jwk), kid: 'a3' }] };
    expect(rejectDetail(() => verifyCompactJws(a3.compact, jwks))).toBe('unknown_kid');
    expect(rejectDetail(() => verifyCompactJws(a3.compact, a3PublicKey, { kid: 'a3' }))).toBe(
      'kid_mismatch',
    );
  });

  it('A.3 rejects a tampered payload, signature and header', () => {
    const [h, p, s] = a3.compact.split('.') as [string, string, string];
    const otherPayload = b64('{"iss":"joe","exp":1300819380,"http://example.com/is_root":false}');
    expect(rejectDetail(() => verifyCompactJws(`${h}.${otherPayload}.${s}`, a3PublicKey))).toBe(
      'bad_signature',
    );
    for (const i of [0, 20, 42, 85]) {
      expect(rejectDetail(() => verifyCompactJws(`${h}.${p}.${flipChar(s, i)}`, a3PublicKey))).toBe(
        'bad_signature',
      );
    }
    const spacedHeader = b64('{"alg":"ES256" }');
    expect(rejectDetail(() => verifyCompactJws(`${spacedHeader}.${p}.${s}`, a3PublicKey))).toBe(
      'bad_signature',
    );
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(rejectDetail(() => verifyCompactJws(a3.compact, otherKey))).toBe('bad_signature');
  });

  it('A.3 rejects the signature in DER form and at the wrong length', () => {
    const [h, p, s] = a3.compact.split('.') as [string, string, string];
    const raw = Buffer.from(s, 'base64url');
    expect(raw).toHaveLength(64);
    const der = Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), raw.subarray(0, 32)]);
    for (const sig of [raw.subarray(0, 63), Buffer.concat([raw, Buffer.from([0])]), der]) {
      const jws = `${h}.${p}.${sig.toString('base64url')}`;
      expect(rejectDetail(() => verifyCompactJws(jws, a3PublicKey))).toBe('bad_signature');
    }
  });

  it('A.1 HS256 is refused by the allow-list, whatever key is offered', () => {
    expect(rejectDetail(() => verifyCompactJws(a1.compact, a3PublicKey))).toBe('alg_not_allowed');
    const jwks: Jwks = { keys: [{ ...a1.jwk, kid: 'hs' }] };
    expect(rejectDetail(() => verifyCompactJws(a1.compact, jwks))).toBe('alg_not_allowed');
  });

  it('A.4 ES512 is refused by the allow-list, and a P-521 key is not an ES256 key', () => {
    expect(rejectDetail(() => verifyCompactJws(a4.compact, a3PublicKey))).toBe('alg_not_allowed');
    expect(() => verifyCompactJws(a3.compact, a4PublicKey)).toThrow(TypeError);
    expect(rejectDetail(() => importEs256Jwk(publicJwk(a4.jwk)))).toBe('bad_jwk');
  });
});

describe('header and structure checks', () => {
  const [, p, s] = a3.compact.split('.') as [string, string, string];
  const withHeader = (json: string): string => `${b64(json)}.${p}.${s}`;

  it.each([
    ['alg none', '{"alg":"none"}', 'alg_not_allowed'],
    ['alg missing', '{"kid":"k"}', 'alg_not_allowed'],
    ['alg lower-case', '{"alg":"es256"}', 'alg_not_allowed'],
    ['alg HS256', '{"alg":"HS256"}', 'alg_not_allowed'],
    ['alg ES256K', '{"alg":"ES256K"}', 'alg_not_allowed'],
    ['alg RS256', '{"alg":"RS256"}', 'alg_not_allowed'],
    ['unknown crit', '{"alg":"ES256","crit":["exp"],"exp":1}', 'crit_unsupported'],
    ['empty crit', '{"alg":"ES256","crit":[]}', 'crit_unsupported'],
    ['b64 false', '{"alg":"ES256","b64":false}', 'crit_unsupported'],
    ['array header', '["ES256"]', 'malformed'],
    ['non-JSON header', 'alg=ES256', 'malformed'],
    ['numeric kid', '{"alg":"ES256","kid":7}', 'malformed'],
  ])('rejects %s', (_label, json, detail) => {
    expect(rejectDetail(() => verifyCompactJws(withHeader(json), a3PublicKey))).toBe(detail);
  });

  it('rejects an alg:none token with an empty signature', () => {
    const none = `${b64('{"alg":"none"}')}.${p}.`;
    expect(rejectDetail(() => verifyCompactJws(none, a3PublicKey))).toBe('alg_not_allowed');
  });

  it('rejects wrong part counts, padding, foreign characters and invalid UTF-8', () => {
    const [h] = a3.compact.split('.') as [string];
    const badUtf8 = Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url');
    for (const jws of [
      `${h}.${p}`,
      `${a3.compact}.`,
      `${h}.${p}.${s}.x.y`,
      `${h}=.${p}.${s}`,
      `${h}.${p}+.${s}`,
      ` ${a3.compact}`,
      `${badUtf8}.${p}.${s}`,
      `.${p}.${s}`,
    ]) {
      expect(['malformed', 'bad_signature']).toContain(
        rejectDetail(() => verifyCompactJws(jws, a3PublicKey)),
      );
    }
  });
});

describe('signing, JWKS and detached payloads', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = localEs256Signer(privateKey);

  it('round-trips through an injected signer and a JWKS looked up by kid', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const jwks = buildJwks([
      { publicKey: other, kid: 'k-old' },
      { publicKey, kid: 'k-2025' },
    ]);
    expect(jwks.keys[1]).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: publicKey.export({ format: 'jwk' }).x,
      y: publicKey.export({ format: 'jwk' }).y,
      kid: 'k-2025',
      use: 'sig',
      alg: 'ES256',
    });
    const jws = await signCompactJws('{"rx":1}', { kid: 'k-2025', signer, typ: 'scrip-rx+jws' });
    const [h, , s] = jws.split('.') as [string, string, string];
    expect(Buffer.from(h, 'base64url').toString()).toBe(
      '{"alg":"ES256","kid":"k-2025","typ":"scrip-rx+jws"}',
    );
    expect(Buffer.from(s, 'base64url')).toHaveLength(64);
    const verified = verifyCompactJws(jws, JSON.parse(JSON.stringify(jwks)) as Jwks, {
      typ: 'scrip-rx+jws',
    });
    expect(verified.payload.toString()).toBe('{"rx":1}');
    expect(verified.header.kid).toBe('k-2025');
    expect(verifyCompactJws(jws, publicKey, { kid: 'k-2025' }).payload.toString()).toBe('{"rx":1}');
    expect(rejectDetail(() => verifyCompactJws(jws, publicKey, { typ: 'JWT' }))).toBe(
      'typ_mismatch',
    );
    const swapped = { keys: [{ ...jwks.keys[0], kid: 'k-2025' }] };
    expect(rejectDetail(() => verifyCompactJws(jws, swapped))).toBe('bad_signature');
    const twice = { keys: [jwks.keys[1], jwks.keys[1]] };
    expect(rejectDetail(() => verifyCompactJws(jws, twice))).toBe('ambiguous_kid');
  });

  it('supports detached payloads (RFC 7515 Appendix F)', async () => {
    const payload = Buffer.from('NewRx body bytes');
    const jws = await signCompactJws(payload, { kid: 'k', signer, detached: true });
    expect(jws.split('.')[1]).toBe('');
    expect(verifyCompactJws(jws, publicKey, { detachedPayload: payload }).payload).toEqual(payload);
    const other = Buffer.from('NewRx body bytez');
    expect(rejectDetail(() => verifyCompactJws(jws, publicKey, { detachedPayload: other }))).toBe(
      'bad_signature',
    );
    const attached = await signCompactJws(payload, { kid: 'k', signer });
    expect(
      rejectDetail(() => verifyCompactJws(attached, publicKey, { detachedPayload: payload })),
    ).toBe('malformed');
  });

  it('refuses a signer that returns DER or the wrong length', async () => {
    const derSigner = (input: Buffer): Promise<Buffer> =>
      Promise.resolve(cryptoSign('sha256', input, privateKey));
    await expect(signCompactJws('x', { kid: 'k', signer: derSigner })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(
      signCompactJws('x', { kid: 'k', signer: () => Promise.resolve(Buffer.alloc(65)) }),
    ).rejects.toBeInstanceOf(TypeError);
    await expect(signCompactJws('x', { kid: '', signer })).rejects.toBeInstanceOf(TypeError);
  });

  it('the signer can sign the RFC A.3 signing input verifiably with the RFC private key', async () => {
    const rfcPrivate = createPrivateKey({ key: a3.jwk, format: 'jwk' });
    const sig = await localEs256Signer(rfcPrivate)(Buffer.from(`${a3.protected}.${a3.payload}`));
    const jws = `${a3.protected}.${a3.payload}.${sig.toString('base64url')}`;
    expect(verifyCompactJws(jws, a3PublicKey).header.alg).toBe('ES256');
  });

  it('checks key types and JWK contents', () => {
    expect(() => toJwk(privateKey, 'k')).toThrow(TypeError);
    expect(() => toJwk(publicKey, '')).toThrow(TypeError);
    expect(() => localEs256Signer(createSecretKey(Buffer.alloc(32)))).toThrow(TypeError);
    expect(() =>
      buildJwks([
        { publicKey, kid: 'a' },
        { publicKey, kid: 'a' },
      ]),
    ).toThrow(TypeError);
    const good = toJwk(publicKey, 'k');
    expect(importEs256Jwk(good).equals(publicKey)).toBe(true);
    for (const bad of [
      { ...good, d: a3.jwk.d },
      { ...good, alg: 'ES512' },
      { ...good, use: 'enc' },
      { ...good, key_ops: ['sign'] },
      { ...good, crv: 'P-384' },
      { ...good, kty: 'oct' },
      { ...good, x: `${good.x}A` },
      { ...good, y: `${good.y.slice(0, -1)}${good.y.endsWith('A') ? 'B' : 'A'}` },
      null,
      [good],
    ]) {
      expect(rejectDetail(() => importEs256Jwk(bad))).toBe('bad_jwk');
    }
  });
});
