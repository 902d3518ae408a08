import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Random } from '../core/index.js';
import { decodeBase32Strict } from './base32.js';
import type { OtpAlgorithm } from './hotp.js';
import { acceptTotp, generateTotpSecret, otpauthUri, totp, totpStep, verifyTotp } from './totp.js';

interface TotpVector {
  unixTime: number;
  T_hex: string;
  mode: OtpAlgorithm;
  totp8: string;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/rfc6238_totp.json');
const data = JSON.parse(readFileSync(file, 'utf8')) as {
  stepSeconds: number;
  T0: number;
  digits: number;
  seeds: Record<OtpAlgorithm, { hex: string }>;
  vectors: TotpVector[];
};

describe('RFC 6238 Appendix B vectors (../shared/vectors/rfc6238_totp.json)', () => {
  it('has 18 rows with X=30, T0=0, 8 digits', () => {
    expect(data.vectors).toHaveLength(18);
    expect([data.stepSeconds, data.T0, data.digits]).toEqual([30, 0, 8]);
  });

  it.each(data.vectors)('$mode at $unixTime -> $totp8', (v) => {
    const seed = Buffer.from(data.seeds[v.mode].hex, 'hex');
    const nowMs = v.unixTime * 1000;
    expect(totpStep(nowMs)).toBe(Number.parseInt(v.T_hex, 16));
    expect(totp(seed, nowMs, { algorithm: v.mode, digits: 8 })).toBe(v.totp8);
    const opts = { algorithm: v.mode, digits: 8 } as const;
    expect(verifyTotp(seed, v.totp8, nowMs, opts)).toBe(totpStep(nowMs));
  });
});

const secret = Buffer.from('3132333435363738393031323334353637383930', 'hex');
const T = 1_111_111_109_000; // step 37037036
const step = totpStep(T);

describe('verifyTotp drift window', () => {
  it('accepts the previous, current and next step and reports which matched', () => {
    for (const delta of [-1, 0, 1]) {
      const code = totp(secret, T + delta * 30_000);
      expect(verifyTotp(secret, code, T)).toBe(step + delta);
    }
  });

  it('refuses two steps of drift either side', () => {
    for (const delta of [-2, 2]) {
      const code = totp(secret, T + delta * 30_000);
      expect(verifyTotp(secret, code, T)).toBeNull();
    }
  });

  it('window 0 accepts only the current step', () => {
    expect(verifyTotp(secret, totp(secret, T), T, { window: 0 })).toBe(step);
    expect(verifyTotp(secret, totp(secret, T - 30_000), T, { window: 0 })).toBeNull();
    expect(() => verifyTotp(secret, '000000', T, { window: 2 as 1 })).toThrow(TypeError);
  });

  it('refuses wrong-length and non-digit codes', () => {
    const code = totp(secret, T);
    expect(verifyTotp(secret, code.slice(1), T)).toBeNull();
    expect(verifyTotp(secret, code + '0', T)).toBeNull();
    expect(verifyTotp(secret, `${code.slice(0, 5)}x`, T)).toBeNull();
    expect(verifyTotp(secret, '', T)).toBeNull();
    expect(verifyTotp(secret, totp(secret, T, { digits: 8 }), T)).toBeNull();
  });

  it('does not look at negative steps near the epoch', () => {
    expect(verifyTotp(secret, totp(secret, 0), 0)).toBe(0);
    expect(() => totpStep(-1)).toThrow(TypeError);
    expect(() => totpStep(Number.NaN)).toThrow(TypeError);
  });
});

describe('acceptTotp replay protection', () => {
  it('accepts a fresh code once and refuses its replay', () => {
    const code = totp(secret, T);
    const first = acceptTotp(secret, code, T, null);
    expect(first).toEqual({ ok: true, step });
    if (!first.ok) throw new Error('unreachable');
    expect(acceptTotp(secret, code, T, first.step)).toEqual({ ok: false });
    // Still refused 29 s later, when the same code is still inside the window.
    expect(acceptTotp(secret, code, T + 29_000, first.step)).toEqual({ ok: false });
  });

  it('refuses an older code after a newer one was accepted', () => {
    const older = totp(secret, T - 30_000);
    expect(acceptTotp(secret, older, T, step)).toEqual({ ok: false });
    expect(acceptTotp(secret, older, T, step - 2)).toEqual({ ok: true, step: step - 1 });
  });

  it('accepts the next step after the current one was used', () => {
    expect(acceptTotp(secret, totp(secret, T + 30_000), T + 30_000, step)).toEqual({
      ok: true,
      step: step + 1,
    });
  });

  it('refuses a wrong code', () => {
    const code = totp(secret, T);
    const wrong = String((Number(code) + 1) % 1e6).padStart(6, '0');
    expect(acceptTotp(secret, wrong, T, null)).toEqual({ ok: false });
  });
});

describe('secret generation and provisioning URI', () => {
  it('draws 20 bytes from the Random port', () => {
    const calls: number[] = [];
    const random: Random = {
      bytes: (n) => {
        calls.push(n);
        return Buffer.alloc(n, 7);
      },
      uuid: () => '00000000-0000-4000-8000-000000000000',
    };
    expect(generateTotpSecret(random)).toEqual(Buffer.alloc(20, 7));
    expect(calls).toEqual([20]);
    const a = generateTotpSecret();
    expect(a).toHaveLength(20);
    expect(a.equals(generateTotpSecret())).toBe(false);
  });

  it('builds a Key Uri Format URI with the issuer in label and parameter', () => {
    const uri = otpauthUri({ issuer: 'Scrip (Acme)', account: 'dr.smith+1@example.org', secret });
    expect(uri).toBe(
      'otpauth://totp/Scrip%20(Acme):dr.smith%2B1%40example.org' +
        '?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Scrip%20(Acme)' +
        '&algorithm=SHA1&digits=6&period=30',
    );
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.searchParams.get('issuer')).toBe('Scrip (Acme)');
    expect(decodeBase32Strict(parsed.searchParams.get('secret') ?? '')).toEqual(secret);
    expect(parsed.host).toBe('totp');
    expect(decodeURIComponent(parsed.pathname)).toBe('/Scrip (Acme):dr.smith+1@example.org');
  });

  it('refuses colons and empty parts', () => {
    expect(() => otpauthUri({ issuer: 'a:b', account: 'x', secret })).toThrow(TypeError);
    expect(() => otpauthUri({ issuer: 'a', account: 'x:y', secret })).toThrow(TypeError);
    expect(() => otpauthUri({ issuer: '', account: 'x', secret })).toThrow(TypeError);
  });
});
