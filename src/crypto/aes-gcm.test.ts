import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDecipheriv, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError, type Random } from '../core/index.js';
import {
  aesGcmDecryptWithNonce,
  aesGcmEncryptWithNonce,
  aesGcmOpen,
  aesGcmSeal,
  GCM_NONCE_BYTES,
} from './aes-gcm.js';

interface GcmVector {
  name: string;
  key: string;
  iv: string;
  aad: string;
  pt: string;
  ct: string;
  tag: string;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

function loadVectors(): GcmVector[] {
  const file = path.resolve(repoRoot, '../shared/vectors/aes256gcm.json');
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('vectors' in parsed)) {
    throw new Error('aes256gcm.json: no "vectors"');
  }
  const list = parsed.vectors;
  if (!Array.isArray(list)) throw new Error('aes256gcm.json: "vectors" is not an array');
  return list.map((v: unknown, i): GcmVector => {
    const fields = ['name', 'key', 'iv', 'aad', 'pt', 'ct', 'tag'] as const;
    if (typeof v !== 'object' || v === null)
      throw new Error(`vector ${String(i)} is not an object`);
    const rec = v as Record<string, unknown>;
    for (const f of fields) {
      if (typeof rec[f] !== 'string') throw new Error(`vector ${String(i)}: field ${f} missing`);
    }
    return rec as unknown as GcmVector;
  });
}

const vectors = loadVectors();
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const aadOf = (v: GcmVector): Buffer | undefined => (v.aad === '' ? undefined : hex(v.aad));

function fixedRandom(bytes: Buffer): Random {
  return { bytes: () => Buffer.from(bytes), uuid: () => '00000000-0000-4000-8000-000000000000' };
}

/** A copy of `bytes` with bit `bit` (0 = LSB of byte 0) inverted. */
function flipBit(bytes: Buffer, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  const index = bit >> 3;
  copy.writeUInt8(copy.readUInt8(index) ^ (1 << (bit & 7)), index);
  return copy;
}

function expectIntegrityError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe('integrity_error');
}

describe('AES-256-GCM known-answer tests (../shared/vectors/aes256gcm.json)', () => {
  it('loads all 8 vectors, including one with AAD', () => {
    expect(vectors).toHaveLength(8);
    expect(vectors.some((v) => v.aad !== '')).toBe(true);
  });

  describe.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    it('encrypts to the expected ciphertext and tag', () => {
      const out = aesGcmEncryptWithNonce(hex(v.key), hex(v.iv), hex(v.pt), aadOf(v));
      expect(out.ciphertext.toString('hex')).toBe(v.ct);
      expect(out.tag.toString('hex')).toBe(v.tag);
    });

    it('decrypts to the expected plaintext', () => {
      const pt = aesGcmDecryptWithNonce(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), aadOf(v));
      expect(pt.toString('hex')).toBe(v.pt);
    });

    it('seals with an injected nonce to the same bytes and opens again', () => {
      const sealed = aesGcmSeal(hex(v.key), hex(v.pt), {
        aad: aadOf(v),
        random: fixedRandom(hex(v.iv)),
      });
      expect(sealed.nonce.toString('hex')).toBe(v.iv);
      expect(Buffer.concat([sealed.ciphertext, sealed.tag]).toString('hex')).toBe(v.ct + v.tag);
      expect(aesGcmOpen(hex(v.key), sealed, aadOf(v)).toString('hex')).toBe(v.pt);
    });

    it.each([0, 7, 64, 127])('rejects the tag with bit %i flipped', (bit) => {
      const tag = flipBit(hex(v.tag), bit);
      expectIntegrityError(() =>
        aesGcmDecryptWithNonce(hex(v.key), hex(v.iv), hex(v.ct), tag, aadOf(v)),
      );
    });

    it('rejects a truncated (12-byte) tag that is a true prefix of the real tag', () => {
      expectIntegrityError(() =>
        aesGcmDecryptWithNonce(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag).subarray(0, 12)),
      );
    });

    it('rejects a changed AAD', () => {
      const aad = v.aad === '' ? Buffer.from([0]) : hex(v.aad).subarray(1);
      expectIntegrityError(() =>
        aesGcmDecryptWithNonce(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), aad),
      );
    });
  });
});

describe('AES-256-GCM behaviour', () => {
  const key = Buffer.alloc(32, 7);

  it('refuses every truncated tag length Node would otherwise accept (4..15 bytes)', () => {
    const nonce = Buffer.alloc(12, 1);
    const { ciphertext, tag } = aesGcmEncryptWithNonce(key, nonce, Buffer.from('hello'));
    for (let len = 0; len < 16; len += 1) {
      expectIntegrityError(() =>
        aesGcmDecryptWithNonce(key, nonce, ciphertext, tag.subarray(0, len)),
      );
    }
    expectIntegrityError(() =>
      aesGcmDecryptWithNonce(key, nonce, ciphertext, Buffer.concat([tag, Buffer.from([0])])),
    );
  });

  it('refuses a 4-byte prefix of the real tag, which an unpinned Node 20 decipher accepts', () => {
    const nonce = Buffer.alloc(12, 2);
    const { ciphertext, tag } = aesGcmEncryptWithNonce(key, nonce, Buffer.from('x'));
    const prefix = tag.subarray(0, 4);
    // The premise of the module comment: without authTagLength, Node authenticates 32 bits only.
    const unpinned = createDecipheriv('aes-256-gcm', key, nonce);
    unpinned.setAuthTag(prefix);
    expect(Buffer.concat([unpinned.update(ciphertext), unpinned.final()]).toString()).toBe('x');
    expectIntegrityError(() => aesGcmDecryptWithNonce(key, nonce, ciphertext, prefix));
  });

  it('uses a fresh 96-bit nonce per seal by default', () => {
    const a = aesGcmSeal(key, Buffer.from('same'));
    const b = aesGcmSeal(key, Buffer.from('same'));
    expect(a.nonce).toHaveLength(GCM_NONCE_BYTES);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('binds AAD: opening without the AAD fails, with it succeeds', () => {
    const aad = Buffer.from('tenant-1');
    const sealed = aesGcmSeal(key, Buffer.from('secret'), { aad });
    expectIntegrityError(() => aesGcmOpen(key, sealed));
    expect(aesGcmOpen(key, sealed, aad).toString()).toBe('secret');
  });

  it('rejects a wrong key and a flipped ciphertext bit, with a message free of plaintext', () => {
    const sealed = aesGcmSeal(key, Buffer.from('PLAINTEXT-MARKER'));
    const flipped = flipBit(sealed.ciphertext, 7);
    for (const attempt of [
      () => aesGcmOpen(Buffer.alloc(32, 8), sealed),
      () => aesGcmOpen(key, { ...sealed, ciphertext: flipped }),
    ]) {
      expectIntegrityError(attempt);
      try {
        attempt();
      } catch (err) {
        expect((err as Error).message).not.toContain('PLAINTEXT');
      }
    }
  });

  it('accepts a 32-byte secret KeyObject', () => {
    const keyObject = createSecretKey(key);
    const sealed = aesGcmSeal(keyObject, Buffer.from('k'));
    expect(aesGcmOpen(key, sealed).toString()).toBe('k');
  });

  it('throws TypeError for wrong key or nonce sizes and for a misbehaving Random', () => {
    expect(() => aesGcmSeal(Buffer.alloc(16), Buffer.alloc(1))).toThrow(TypeError);
    expect(() => aesGcmSeal(createSecretKey(Buffer.alloc(16)), Buffer.alloc(1))).toThrow(TypeError);
    expect(() => aesGcmEncryptWithNonce(key, Buffer.alloc(16), Buffer.alloc(1))).toThrow(TypeError);
    expect(() =>
      aesGcmSeal(key, Buffer.alloc(1), { random: fixedRandom(Buffer.alloc(8)) }),
    ).toThrow(TypeError);
  });
});
