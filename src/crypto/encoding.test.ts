import { describe, expect, it } from 'vitest';
import {
  decodeBase64UrlStrict,
  encodeBase64Url,
  hasLoneSurrogate,
  lengthPrefixed,
  utf8Strict,
} from './encoding.js';

describe('strict base64url (RFC 4648 §5)', () => {
  it('round-trips every length 0..33', () => {
    for (let n = 0; n <= 33; n += 1) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));
      const text = encodeBase64Url(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(decodeBase64UrlStrict(text)).toEqual(bytes);
    }
  });

  it.each([
    ['padding', 'AQI='],
    ['standard alphabet +', 'a+b_'],
    ['standard alphabet /', 'a/b_'],
    ['whitespace', 'AQ I'],
    ['impossible length 4n+1', 'AQIDB'],
    ['non-zero trailing bits', 'AQJ'],
    ['non-zero trailing bits, one byte', 'AR'],
  ])('rejects %s (%j)', (_label, text) => {
    expect(decodeBase64UrlStrict(text)).toBeUndefined();
  });
});

describe('length-prefixed framing', () => {
  it('is u32be(length) ‖ bytes and injective across boundaries', () => {
    const ab = lengthPrefixed([Buffer.from('ab'), Buffer.from('c')]);
    expect(ab.toString('hex')).toBe('000000026162' + '0000000163');
    expect(ab.equals(lengthPrefixed([Buffer.from('a'), Buffer.from('bc')]))).toBe(false);
    expect(lengthPrefixed([]).byteLength).toBe(0);
    expect(lengthPrefixed([Buffer.alloc(0)]).toString('hex')).toBe('00000000');
  });
});

describe('UTF-8 strictness', () => {
  it('detects unpaired surrogates but accepts pairs', () => {
    expect(hasLoneSurrogate('\u{1f602}')).toBe(false);
    expect(hasLoneSurrogate('a\ud83d')).toBe(true);
    expect(hasLoneSurrogate('\ude02b')).toBe(true);
    expect(() => utf8Strict('x\ud800', 'value')).toThrow(TypeError);
    expect(utf8Strict('é', 'value').toString('hex')).toBe('c3a9');
  });
});
