import { hash, parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  DUMMY_PASSWORD_HASH,
  hashPassword,
  PASSWORD_HASH_OPTIONS,
  verifyAgainstDummy,
  verifyPassword,
} from './password.js';

const PASSWORD = 'tangerine-orbit-ladder-47';

describe('hashPassword / verifyPassword', () => {
  it('hashes with argon2id v19 m=19456 t=2 p=1 and a 16-byte salt', async () => {
    const stored = await hashPassword(PASSWORD);
    expect(stored.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true);
    expect(parseOptions(stored)).toMatchObject({
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
      outputLen: 32,
      saltLen: 16,
    });
    expect(await hashPassword(PASSWORD)).not.toBe(stored); // fresh salt each time
  });

  it('accepts the right password and refuses a wrong one', async () => {
    const stored = await hashPassword(PASSWORD);
    expect(await verifyPassword(stored, PASSWORD)).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(stored, `${PASSWORD}x`)).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword(stored, PASSWORD.toUpperCase())).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it('normalises with NFKC, so composed and decomposed forms verify alike', async () => {
    const composed = 'caf\u00e9-au-lait-2024!';
    const decomposed = 'cafe\u0301-au-lait-2024!';
    const fullwidth = '\uff43\uff41\uff46\u00e9-au-lait-2024!'; // ｃａｆé: NFKC maps to "caf"
    const stored = await hashPassword(composed);
    expect((await verifyPassword(stored, decomposed)).ok).toBe(true);
    expect((await verifyPassword(stored, fullwidth)).ok).toBe(true);
  });

  it('flags hashes made with other parameters for rehash', async () => {
    const old = await hash(PASSWORD, { memoryCost: 8192, timeCost: 3, parallelism: 1 });
    expect(await verifyPassword(old, PASSWORD)).toEqual({ ok: true, needsRehash: true });
    const argon2i = await hash(PASSWORD, { ...PASSWORD_HASH_OPTIONS, algorithm: 1 as never });
    expect(argon2i.startsWith('$argon2i$')).toBe(true);
    expect(await verifyPassword(argon2i, PASSWORD)).toEqual({ ok: true, needsRehash: true });
    // A wrong password never reports needsRehash, whatever the stored parameters.
    expect(await verifyPassword(old, 'not-the-password')).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it('refuses lone surrogates and absurd lengths without throwing on verify', async () => {
    const stored = await hashPassword(PASSWORD);
    expect(await verifyPassword(stored, '\ud800abcdefghijkl')).toEqual({
      ok: false,
      needsRehash: false,
    });
    expect((await verifyPassword(stored, 'a'.repeat(5000))).ok).toBe(false);
    await expect(hashPassword('\udc00abcdefghijkl')).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('treats a malformed stored hash as an integrity error', async () => {
    const err: unknown = await verifyPassword('$2b$10$notargon', PASSWORD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('integrity_error');
  });
});

describe('verifyAgainstDummy', () => {
  it('uses exactly the current parameters, so it costs what a real verification costs', () => {
    const dummy = parseOptions(DUMMY_PASSWORD_HASH);
    expect(dummy).toMatchObject({
      algorithm: PASSWORD_HASH_OPTIONS.algorithm,
      version: PASSWORD_HASH_OPTIONS.version,
      memoryCost: PASSWORD_HASH_OPTIONS.memoryCost,
      timeCost: PASSWORD_HASH_OPTIONS.timeCost,
      parallelism: PASSWORD_HASH_OPTIONS.parallelism,
      outputLen: PASSWORD_HASH_OPTIONS.outputLen,
      saltLen: 16,
    });
  });

  it('always refuses, also for empty and malformed input', async () => {
    for (const input of [PASSWORD, '', '\ud800', 'x'.repeat(5000)]) {
      expect(await verifyAgainstDummy(input)).toEqual({ ok: false, needsRehash: false });
    }
  });
});
