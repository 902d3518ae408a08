import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Random } from '../core/index.js';
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_BITS,
} from './recovery-codes.js';

const pepper = Buffer.alloc(32, 0x42);
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

describe('generateRecoveryCodes', () => {
  it('makes 10 distinct codes of 60 bits in the unambiguous alphabet', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(CODE_RE);
    expect(RECOVERY_CODE_BITS).toBeGreaterThanOrEqual(60);
  });

  it('maps each random byte to one character by its low five bits', () => {
    // byte i = (33i + 224) mod 256: high bits vary, low five bits = i, so the code spells the
    // alphabet in order; any use of the high bits (a biased modulo) would change it.
    const random: Random = {
      bytes: (n) => Buffer.from(Array.from({ length: n }, (_, i) => (33 * i + 224) & 0xff)),
      uuid: () => '00000000-0000-4000-8000-000000000000',
    };
    expect(generateRecoveryCodes(random, 1)).toEqual(['0123-4567-89AB']);
  });

  it('draws again when a code repeats within a set', () => {
    const seq = [Buffer.alloc(12, 0), Buffer.alloc(12, 0), Buffer.alloc(12, 1)];
    const random: Random = {
      bytes: () => seq.shift() ?? Buffer.alloc(12, 2),
      uuid: () => '00000000-0000-4000-8000-000000000000',
    };
    expect(generateRecoveryCodes(random, 2)).toEqual(['0000-0000-0000', '1111-1111-1111']);
  });

  it('refuses silly counts', () => {
    expect(() => generateRecoveryCodes(undefined, 0)).toThrow(TypeError);
    expect(() => generateRecoveryCodes(undefined, 101)).toThrow(TypeError);
  });
});

describe('normalizeRecoveryCode', () => {
  it('accepts case, spacing and Crockford misreads', () => {
    expect(normalizeRecoveryCode('abcd-efgh-jkmn')).toBe('ABCDEFGHJKMN');
    expect(normalizeRecoveryCode(' oOiL 1234 5678 ')).toBe('0011' + '12345678');
  });

  it('refuses wrong length and characters outside the alphabet', () => {
    expect(normalizeRecoveryCode('ABCD-EFGH-JKM')).toBeUndefined();
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMNP')).toBeUndefined();
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMU')).toBeUndefined();
    expect(normalizeRecoveryCode('ABCD_EFGH_JKMN')).toBeUndefined();
    expect(normalizeRecoveryCode('x'.repeat(65))).toBeUndefined();
  });
});

describe('hash and match', () => {
  const codes = generateRecoveryCodes();
  const stored = codes.map((c) => hashRecoveryCode(pepper, 'user-1', c));

  it('stores 64-hex HMACs that differ per code, subject and pepper', () => {
    for (const h of stored) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(stored).size).toBe(10);
    const code = codes[0]!;
    expect(hashRecoveryCode(pepper, 'user-2', code)).not.toBe(stored[0]);
    expect(hashRecoveryCode(Buffer.alloc(32, 1), 'user-1', code)).not.toBe(stored[0]);
    expect(hashRecoveryCode(createSecretKey(pepper), 'user-1', code)).toBe(stored[0]);
    expect(hashRecoveryCode(pepper, 'user-1', code.toLowerCase().replace(/-/g, ' '))).toBe(
      stored[0],
    );
  });

  it('returns the index of the matching stored hash', () => {
    codes.forEach((code, i) => {
      expect(matchRecoveryCode(pepper, 'user-1', code, stored)).toBe(i);
    });
  });

  it('refuses unknown codes, other subjects, other peppers and used (removed) codes', () => {
    const [other] = generateRecoveryCodes(undefined, 1);
    expect(matchRecoveryCode(pepper, 'user-1', other!, stored)).toBeNull();
    expect(matchRecoveryCode(pepper, 'user-2', codes[3]!, stored)).toBeNull();
    expect(matchRecoveryCode(Buffer.alloc(32, 9), 'user-1', codes[3]!, stored)).toBeNull();
    const remaining = stored.filter((_, i) => i !== 3);
    expect(matchRecoveryCode(pepper, 'user-1', codes[3]!, remaining)).toBeNull();
    expect(matchRecoveryCode(pepper, 'user-1', 'not a code', stored)).toBeNull();
    expect(matchRecoveryCode(pepper, '', codes[3]!, stored)).toBeNull();
  });

  it('skips malformed stored entries without throwing', () => {
    const mangled = ['', 'zz', stored[0]!.toUpperCase(), stored[0]!.slice(2), stored[0]!];
    expect(matchRecoveryCode(pepper, 'user-1', codes[0]!, mangled)).toBe(4);
  });

  it('refuses weak peppers and non-codes at hashing time', () => {
    expect(() => hashRecoveryCode(Buffer.alloc(16), 'user-1', codes[0]!)).toThrow(TypeError);
    expect(() => hashRecoveryCode(pepper, 'user-1', 'nope')).toThrow(TypeError);
    expect(() => hashRecoveryCode(pepper, '', codes[0]!)).toThrow(TypeError);
  });
});
