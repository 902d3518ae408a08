import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import { leafHash, rootFromLeafHashes } from './merkle.js';
import { createNoteSigner, createNoteVerifier, type NoteSignFn } from './note-keys.js';

const ORIGIN = 'scrip.example/audit/v1';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const p1363 =
  (key: KeyObject): NoteSignFn =>
  async (m) =>
    Promise.resolve(cryptoSign('sha256', m, { key, dsaEncoding: 'ieee-p1363' }));
const signer = createNoteSigner(ORIGIN, ec.publicKey, p1363(ec.privateKey));
const verifier = createNoteVerifier(ORIGIN, ec.publicKey);

const root = rootFromLeafHashes(['a', 'b', 'c'].map((s) => leafHash(Buffer.from(s))));
const ROOT_B64 = root.toString('base64');

/** The same bytes with a non-zero unused bit in the last base64 character (non-canonical). */
function withPaddingBitSet(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const last = b64.length - 2; // 32 bytes: 43 characters and one '='; 2 unused bits
  const c = alphabet[alphabet.indexOf(b64[last] ?? 'A') ^ 1] ?? 'A';
  const out = `${b64.slice(0, last)}${c}=`;
  expect(Buffer.from(out, 'base64').equals(Buffer.from(b64, 'base64'))).toBe(true);
  return out;
}

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    return err instanceof TypeError ? 'TypeError' : 'other';
  }
  return undefined;
}

describe('format and parse', () => {
  it('formats the tlog-checkpoint body exactly', () => {
    expect(formatCheckpoint({ origin: ORIGIN, size: 3, rootHash: root })).toBe(
      `${ORIGIN}\n3\n${ROOT_B64}\n`,
    );
    expect(
      formatCheckpoint({ origin: ORIGIN, size: 0, rootHash: root, extensions: ['x y', 'z'] }),
    ).toBe(`${ORIGIN}\n0\n${ROOT_B64}\nx y\nz\n`);
  });

  it('round-trips, including extension lines', () => {
    const input = { origin: ORIGIN, size: 123456, rootHash: root, extensions: ['ext one'] };
    const parsed = parseCheckpoint(formatCheckpoint(input));
    expect(parsed).toEqual({ ...input, rootHash: Buffer.from(root) });
  });

  it('refuses to format invalid input', () => {
    const base = { origin: ORIGIN, size: 1, rootHash: root };
    for (const bad of [
      { ...base, origin: '' },
      { ...base, origin: 'a\nb' },
      { ...base, origin: 'a\rb' },
      { ...base, size: -1 },
      { ...base, size: 1.5 },
      { ...base, size: 2 ** 53 },
      { ...base, rootHash: root.subarray(1) },
      { ...base, extensions: [''] },
      { ...base, extensions: ['a\nb'] },
    ]) {
      expect(() => formatCheckpoint(bad)).toThrow(TypeError);
    }
  });

  it.each([
    ['leading zero', `${ORIGIN}\n03\n${ROOT_B64}\n`],
    ['plus sign', `${ORIGIN}\n+3\n${ROOT_B64}\n`],
    ['minus sign', `${ORIGIN}\n-3\n${ROOT_B64}\n`],
    ['spaces around size', `${ORIGIN}\n 3\n${ROOT_B64}\n`],
    ['exponent', `${ORIGIN}\n3e0\n${ROOT_B64}\n`],
    ['hex size', `${ORIGIN}\n0x3\n${ROOT_B64}\n`],
    ['size above 2^53 - 1', `${ORIGIN}\n9007199254740992\n${ROOT_B64}\n`],
    ['empty size', `${ORIGIN}\n\n${ROOT_B64}\n`],
    ['URL-safe base64', `${ORIGIN}\n3\n${ROOT_B64.replaceAll('+', '-').replaceAll('/', '_')}x\n`],
    ['unpadded base64', `${ORIGIN}\n3\n${ROOT_B64.replace('=', '')}\n`],
    ['non-zero base64 padding bits', `${ORIGIN}\n3\n${withPaddingBitSet(ROOT_B64)}\n`],
    ['31-byte root', `${ORIGIN}\n3\n${root.subarray(1).toString('base64')}\n`],
    [
      '33-byte root',
      `${ORIGIN}\n3\n${Buffer.concat([root, Buffer.from([0])]).toString('base64')}\n`,
    ],
    ['missing final newline', `${ORIGIN}\n3\n${ROOT_B64}`],
    ['CR line endings', `${ORIGIN}\r\n3\r\n${ROOT_B64}\r\n`],
    ['only two lines', `${ORIGIN}\n3\n`],
    ['empty origin', `\n3\n${ROOT_B64}\n`],
    ['empty extension line', `${ORIGIN}\n3\n${ROOT_B64}\n\n`],
    ['a signed note instead of a body', `${ORIGIN}\n3\n${ROOT_B64}\n\n\u2014 k AAAAAAE=\n`],
  ])('parse rejects %s', (_desc, text) => {
    expect(errorCode(() => parseCheckpoint(text))).toBe('validation_failed');
  });

  it('accepts a root whose base64 contains "+" and "/" characters (standard alphabet)', () => {
    const odd = Buffer.alloc(32, 0xfb);
    expect(parseCheckpoint(`${ORIGIN}\n1\n${odd.toString('base64')}\n`).rootHash).toEqual(odd);
  });
});

describe('signed checkpoints', () => {
  it('round-trips through signCheckpoint and openCheckpoint', async () => {
    const note = await signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, signer);
    const opened = openCheckpoint(note, [verifier], { origin: ORIGIN });
    expect(opened.checkpoint.size).toBe(3);
    expect(opened.checkpoint.rootHash.equals(root)).toBe(true);
    expect(opened.verifiedBy).toEqual([{ name: ORIGIN, keyId: verifier.keyId }]);
  });

  it('fails for tampered size, root or origin', async () => {
    const note = await signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, signer);
    const other = Buffer.from(root);
    other[0] = (other[0] as number) ^ 1;
    for (const tampered of [
      note.replace('\n3\n', '\n4\n'),
      note.replace(ROOT_B64, other.toString('base64')),
      note.replace(`${ORIGIN}\n3`, `scrip.example/audit/v2\n3`),
    ]) {
      expect(tampered).not.toBe(note);
      expect(errorCode(() => openCheckpoint(tampered, [verifier]))).toBe('integrity_error');
    }
  });

  it('fails for a signature by a different key, even under the same name', async () => {
    const impostor = createNoteSigner(ORIGIN, ec2.publicKey, p1363(ec2.privateKey));
    const note = await signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, impostor);
    expect(errorCode(() => openCheckpoint(note, [verifier]))).toBe('integrity_error');
  });

  it('fails when the checkpoint is for another origin than expected', async () => {
    const note = await signCheckpoint(
      { origin: 'other.example/log', size: 3, rootHash: root },
      signer,
    );
    expect(openCheckpoint(note, [verifier]).checkpoint.origin).toBe('other.example/log');
    expect(errorCode(() => openCheckpoint(note, [verifier], { origin: ORIGIN }))).toBe(
      'integrity_error',
    );
  });

  it('accepts an Ed25519-signed checkpoint for an Ed25519 verifier', async () => {
    const edSigner = createNoteSigner(ORIGIN, ed.publicKey, async (m) =>
      Promise.resolve(cryptoSign(null, m, ed.privateKey)),
    );
    const note = await signCheckpoint({ origin: ORIGIN, size: 3, rootHash: root }, edSigner);
    const opened = openCheckpoint(note, [createNoteVerifier(ORIGIN, ed.publicKey)]);
    expect(opened.checkpoint.rootHash.equals(root)).toBe(true);
    expect(errorCode(() => openCheckpoint(note, [verifier]))).toBe('integrity_error');
  });

  it('rejects a well-signed note whose body is not a checkpoint', async () => {
    const { signNote } = await import('./signed-note.js');
    const note = await signNote('hello\n', signer);
    expect(errorCode(() => openCheckpoint(note, [verifier]))).toBe('validation_failed');
  });
});
