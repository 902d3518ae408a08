import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeBase32Strict, encodeBase32 } from './base32.js';
import { hotp, otpEquals, verifyHotp } from './hotp.js';

interface HotpVector {
  counter: number;
  truncatedDecimal: number;
  hotp6: string;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/rfc4226_hotp.json');
const data = JSON.parse(readFileSync(file, 'utf8')) as {
  secretHex: string;
  secretBase32: string;
  digits: number;
  vectors: HotpVector[];
};
const secret = Buffer.from(data.secretHex, 'hex');

describe('RFC 4226 Appendix D vectors (../shared/vectors/rfc4226_hotp.json)', () => {
  it('has the 10 published rows', () => {
    expect(data.vectors).toHaveLength(10);
    expect(data.digits).toBe(6);
  });

  it.each(data.vectors)('counter $counter -> $hotp6', (v) => {
    expect(hotp(secret, v.counter)).toBe(v.hotp6);
    expect(hotp(secret, v.counter, { digits: 8 })).toBe(
      String(v.truncatedDecimal % 1e8).padStart(8, '0'),
    );
    expect(verifyHotp(secret, v.hotp6, v.counter)).toBe(true);
    expect(verifyHotp(secret, v.hotp6, v.counter + 1)).toBe(false);
  });

  it('the published base32 form of the secret round-trips', () => {
    expect(encodeBase32(secret)).toBe(data.secretBase32);
    expect(decodeBase32Strict(data.secretBase32)).toEqual(secret);
  });
});

describe('hotp input checks', () => {
  it('refuses short secrets, bad counters and bad digit counts', () => {
    expect(() => hotp(Buffer.alloc(15), 0)).toThrow(TypeError);
    expect(() => hotp(secret, -1)).toThrow(TypeError);
    expect(() => hotp(secret, 1.5)).toThrow(TypeError);
    expect(() => hotp(secret, 2 ** 53)).toThrow(TypeError);
    expect(() => hotp(secret, 0, { digits: 9 as 8 })).toThrow(TypeError);
    expect(() => hotp(secret, 0, { algorithm: 'MD5' as 'SHA1' })).toThrow(TypeError);
  });

  it('encodes large counters as 64-bit big-endian', () => {
    expect(hotp(secret, 2 ** 40)).toMatch(/^[0-9]{6}$/);
    expect(hotp(secret, 2 ** 40)).not.toBe(hotp(secret, 0));
  });

  it('otpEquals refuses wrong lengths and non-digits', () => {
    expect(otpEquals('755224', '755224', 6)).toBe(true);
    expect(otpEquals('755224', '755225', 6)).toBe(false);
    expect(otpEquals('755224', '75522', 6)).toBe(false);
    expect(otpEquals('755224', '7552240', 6)).toBe(false);
    expect(otpEquals('755224', '75522a', 6)).toBe(false);
    expect(otpEquals('755224', '７55224', 6)).toBe(false);
    expect(verifyHotp(secret, ' 755224', 0)).toBe(false);
  });
});

describe('base32 (RFC 4648 §10 test vectors, padding removed)', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  it.each(cases)('%j <-> %s', (plain, encoded) => {
    expect(encodeBase32(Buffer.from(plain, 'latin1'))).toBe(encoded);
    expect(decodeBase32Strict(encoded)?.toString('latin1')).toBe(plain);
  });

  it('round-trips every length 0..64 of random bytes', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff));
      const text = encodeBase32(bytes);
      expect(text).toMatch(/^[A-Z2-7]*$/);
      expect(text.length).toBe(Math.ceil((n * 8) / 5));
      expect(decodeBase32Strict(text)).toEqual(bytes);
    }
  });

  it('rejects non-canonical text', () => {
    expect(decodeBase32Strict('MY======')).toBeUndefined(); // padding
    expect(decodeBase32Strict('my')).toBeUndefined(); // lower case
    expect(decodeBase32Strict('M1')).toBeUndefined(); // outside alphabet
    expect(decodeBase32Strict('MZX')).toBeUndefined(); // impossible length 8n+3
    expect(decodeBase32Strict('M')).toBeUndefined(); // impossible length 8n+1
    expect(decodeBase32Strict('MZXW6Y')).toBeUndefined(); // impossible length 8n+6
    expect(decodeBase32Strict('MZ')).toBeUndefined(); // non-zero trailing bits ('f' is MY)
  });
});
