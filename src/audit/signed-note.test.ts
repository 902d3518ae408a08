import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  createNoteSigner,
  createNoteVerifier,
  formatVerifierKey,
  noteKeyId,
  p1363ToDer,
  parseVerifierKey,
  type NoteSignFn,
} from './note-keys.js';
import { MAX_NOTE_SIGNATURES, parseNote, signNote, verifyNote } from './signed-note.js';

// Published interop vectors (small, cited, kept inline):
// golang.org/x/mod/sumdb/note example_test.go (BSD-3-Clause): Ed25519, deterministic.
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
// transparency-dev/witness internal/note/note_verifier_test.go (Apache-2.0): type 0x02 ECDSA
// P-256 verifier keys and checkpoints of Sigstore Rekor and the Pixel 6 transparency log.
const REKOR_VKEY =
  'rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=';
const REKOR_NOTE =
  'Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n\u2014 rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n';
const PIXEL_VKEY =
  'pixel6_transparency_log+91c16e30+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=';
const PIXEL_NOTE =
  'DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n\u2014 pixel6_transparency_log kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHtoCIGD0cNe47dHWBoPwYdgBCepB06/+g5O1FmYjXl06owL4\n';

const ecdsaSignFn =
  (privateKey: KeyObject): NoteSignFn =>
  async (m) =>
    Promise.resolve(cryptoSign('sha256', m, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
const ed25519SignFn =
  (privateKey: KeyObject): NoteSignFn =>
  async (m) =>
    Promise.resolve(cryptoSign(null, m, privateKey));

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const LOG = 'scrip.example/audit';
const TEXT = 'scrip.example/audit\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
const ecSigner = createNoteSigner(LOG, ec.publicKey, ecdsaSignFn(ec.privateKey));
const ecVerifier = createNoteVerifier(LOG, ec.publicKey);

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    return err instanceof TypeError ? 'TypeError' : 'other';
  }
  return undefined;
}

describe('interop vectors', () => {
  it('verifies the Go sumdb/note Ed25519 example and reproduces it byte for byte', async () => {
    const v = parseVerifierKey(GO_VKEY);
    expect(verifyNote(GO_NOTE, [v]).text).toBe(GO_TEXT);
    const seed = Buffer.from(GO_SKEY.split('+').slice(4).join('+'), 'base64').subarray(1);
    const pub = Buffer.from(GO_VKEY.split('+')[2] ?? '', 'base64').subarray(1);
    const privateKey = createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: seed.toString('base64url'),
        x: pub.toString('base64url'),
      },
      format: 'jwk',
    });
    const publicKey = createPublicKey(privateKey);
    expect(formatVerifierKey('PeterNeumann', publicKey)).toBe(GO_VKEY);
    const signer = createNoteSigner('PeterNeumann', publicKey, ed25519SignFn(privateKey));
    expect(await signNote(GO_TEXT, signer)).toBe(GO_NOTE);
    const tampered = GO_NOTE.replace('cryptography', 'cryptographY');
    expect(errorCode(() => verifyNote(tampered, [v]))).toBe('integrity_error');
  });

  it.each([
    ['Rekor', REKOR_VKEY, REKOR_NOTE, '798034'],
    ['Pixel 6', PIXEL_VKEY, PIXEL_NOTE, '10'],
  ])('verifies the %s type-0x02 ECDSA checkpoint', (_name, vkey, note, size) => {
    const v = parseVerifierKey(vkey);
    const spki = Buffer.from(vkey.split('+').slice(2).join('+'), 'base64').subarray(1);
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(formatVerifierKey(v.name, publicKey)).toBe(vkey);
    expect(verifyNote(note, [v]).verifiedBy).toEqual([{ name: v.name, keyId: v.keyId }]);
    const tampered = note.replace(`\n${size}\n`, `\n${Number(size) + 1}\n`);
    expect(errorCode(() => verifyNote(tampered, [v]))).toBe('integrity_error');
  });

  it('rejects verifier keys with a wrong key ID, type or encoding', () => {
    const wrongId = REKOR_VKEY.replace('c0d23d6a', '00000000');
    expect(errorCode(() => parseVerifierKey(wrongId))).toBe('validation_failed');
    expect(errorCode(() => parseVerifierKey('rekor.sigstore.dev+12345678+AwEB'))).toBe(
      'validation_failed',
    );
    expect(errorCode(() => parseVerifierKey('a+12345678+THIS_IS_NOT_BASE64!'))).toBe(
      'validation_failed',
    );
    expect(errorCode(() => parseVerifierKey('a+12345678'))).toBe('validation_failed');
  });
});

describe('keys', () => {
  it('ECDSA key ID is SHA-256(SPKI DER)[:4]; Ed25519 is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]', () => {
    const spki = ec.publicKey.export({ format: 'der', type: 'spki' });
    expect(noteKeyId(LOG, ec.publicKey)).toBe(
      createHash('sha256').update(spki).digest().readUInt32BE(0),
    );
    const raw = ed.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const want = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${LOG}\n`), Buffer.from([1]), raw]))
      .digest()
      .readUInt32BE(0);
    expect(noteKeyId(LOG, ed.publicKey)).toBe(want);
  });

  it('verifier key strings round-trip', () => {
    for (const key of [ec.publicKey, ed.publicKey]) {
      const v = parseVerifierKey(formatVerifierKey(LOG, key));
      expect(v.keyId).toBe(noteKeyId(LOG, key));
    }
  });

  it('rejects unsupported keys and key names', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() => createNoteVerifier(LOG, p384.publicKey)).toThrow(TypeError);
    expect(() => createNoteVerifier(LOG, ec.privateKey)).toThrow(TypeError);
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\nb']) {
      expect(() => createNoteVerifier(name, ec.publicKey)).toThrow(TypeError);
    }
  });

  it('p1363ToDer: minimal INTEGERs, sign padding, SEQUENCE', () => {
    const r = Buffer.alloc(32);
    r[31] = 1;
    const s = Buffer.alloc(32);
    s[0] = 0x80;
    const der = p1363ToDer(Buffer.concat([r, s]));
    expect(der.subarray(0, 7).toString('hex')).toBe('30260201010221');
    expect(der.subarray(7).toString('hex')).toBe(`0080${'00'.repeat(31)}`);
  });

  it('every re-encoded signature verifies as DER (covers high-bit and leading-zero r, s)', () => {
    for (let i = 0; i < 300; i++) {
      const msg = Buffer.from(`m${i}`);
      const p1363 = cryptoSign('sha256', msg, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
      const ok = cryptoVerify(
        'sha256',
        msg,
        { key: ec.publicKey, dsaEncoding: 'der' },
        p1363ToDer(p1363),
      );
      expect(ok).toBe(true);
    }
  });

  it('a signer that returns a wrong-size or non-verifying signature is refused', async () => {
    const bad = createNoteSigner(LOG, ec.publicKey, async (m) =>
      Promise.resolve(cryptoSign('sha256', m, { key: ec.privateKey, dsaEncoding: 'der' })),
    );
    await expect(signNote(TEXT, bad)).rejects.toThrow(TypeError);
    const wrongKey = createNoteSigner(LOG, ec.publicKey, ecdsaSignFn(ec2.privateKey));
    await expect(signNote(TEXT, wrongKey)).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('sign and verify', () => {
  it('round-trips an ECDSA-signed note', async () => {
    const note = await signNote(TEXT, ecSigner);
    expect(note.startsWith(`${TEXT}\n\u2014 ${LOG} `)).toBe(true);
    const sig = parseNote(note).signatures[0];
    expect(sig?.keyId).toBe(ecVerifier.keyId);
    expect(sig?.signature[0]).toBe(0x30); // DER SEQUENCE, per signature type 0x02
    expect(verifyNote(note, [ecVerifier])).toEqual({
      text: TEXT,
      verifiedBy: [{ name: LOG, keyId: ecVerifier.keyId }],
    });
  });

  it('accepts Ed25519 signatures for an Ed25519 verifier', async () => {
    const signer = createNoteSigner(
      'witness.example/w1',
      ed.publicKey,
      ed25519SignFn(ed.privateKey),
    );
    const note = await signNote(TEXT, signer);
    const verifier = createNoteVerifier('witness.example/w1', ed.publicKey);
    expect(verifyNote(note, [verifier]).verifiedBy).toHaveLength(1);
  });

  it('ignores unknown keys but requires one trusted signature', async () => {
    const other = createNoteSigner('other.example/log', ec2.publicKey, ecdsaSignFn(ec2.privateKey));
    const both = await signNote(TEXT, [other, ecSigner]);
    expect(verifyNote(both, [ecVerifier]).verifiedBy).toEqual([
      { name: LOG, keyId: ecVerifier.keyId },
    ]);
    const onlyOther = await signNote(TEXT, other);
    expect(errorCode(() => verifyNote(onlyOther, [ecVerifier]))).toBe('integrity_error');
    // Same name, different key: an unknown key, so ignored, so no trusted signature.
    const sameName = await signNote(
      TEXT,
      createNoteSigner(LOG, ec2.publicKey, ecdsaSignFn(ec2.privateKey)),
    );
    expect(errorCode(() => verifyNote(sameName, [ecVerifier]))).toBe('integrity_error');
  });

  it('rejects the whole note when a trusted key has a bad signature', async () => {
    const note = await signNote(TEXT, ecSigner);
    const line = note.slice(note.lastIndexOf('\u2014'));
    const at = line.lastIndexOf(' ') + 9; // first signature character after the 4-byte key ID
    const forged = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
    expect(errorCode(() => verifyNote(`${note}${forged}`, [ecVerifier]))).toBe('integrity_error');
    expect(errorCode(() => verifyNote(note.replace('\n3\n', '\n4\n'), [ecVerifier]))).toBe(
      'integrity_error',
    );
  });

  it('requireAll demands every verifier', async () => {
    const edSigner = createNoteSigner('w', ed.publicKey, ed25519SignFn(ed.privateKey));
    const edVerifier = createNoteVerifier('w', ed.publicKey);
    const one = await signNote(TEXT, ecSigner);
    const two = await signNote(TEXT, [ecSigner, edSigner]);
    expect(verifyNote(two, [ecVerifier, edVerifier], { requireAll: true }).verifiedBy).toHaveLength(
      2,
    );
    expect(errorCode(() => verifyNote(one, [ecVerifier, edVerifier], { requireAll: true }))).toBe(
      'integrity_error',
    );
    expect(() => verifyNote(one, [ecVerifier, ecVerifier])).toThrow(TypeError);
  });
});

describe('parseNote rejects malformed notes', () => {
  const sigLine = '\u2014 k AAAAAAE=\n';
  it.each([
    ['missing blank line', `${TEXT}${sigLine}`],
    ['no signatures', `${TEXT}\n`],
    ['no final newline', `${TEXT}\n${sigLine.trimEnd()}`],
    ['CR characters', `${TEXT.replaceAll('\n', '\r\n')}\r\n${sigLine}`],
    ['a tab', `a\tb\n\n${sigLine}`],
    ['ASCII dashes', `${TEXT}\n-- k AAAAAAE=\n`],
    ['no space after the dash', `${TEXT}\n\u2014k AAAAAAE=\n`],
    ['URL-safe base64', `${TEXT}\n\u2014 k AAAA__8=\n`],
    ['unpadded base64', `${TEXT}\n\u2014 k AAAAAAE\n`],
    ['non-canonical base64', `${TEXT}\n\u2014 k AAAAAAF=\n`],
    ['signature shorter than 5 bytes', `${TEXT}\n\u2014 k AAAAAA==\n`],
    ['a "+" in the key name', `${TEXT}\n\u2014 k+1 AAAAAAE=\n`],
    ['a lone surrogate', `\ud800\n\n${sigLine}`],
    ['too many signatures', `${TEXT}\n${sigLine.repeat(MAX_NOTE_SIGNATURES + 1)}`],
  ])('%s', (_desc, note) => {
    expect(errorCode(() => parseNote(note))).toBe('validation_failed');
  });

  it('accepts empty lines inside the text (split at the last blank line)', () => {
    expect(parseNote(`a\n\nb\n\n${sigLine}`).text).toBe('a\n\nb\n');
  });
});
