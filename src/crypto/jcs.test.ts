import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalizeToBytes } from './jcs.js';

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const testdata = path.resolve(repoRoot, '../shared/vectors/jcs-cyberphone/testdata');
const inputs = readdirSync(path.join(testdata, 'input'))
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('RFC 8785 vectors (cyberphone/json-canonicalization testdata)', () => {
  it('finds all 6 input files, each with an output and an outhex', () => {
    expect(inputs).toEqual([
      'arrays.json',
      'french.json',
      'structures.json',
      'unicode.json',
      'values.json',
      'weird.json',
    ]);
  });

  describe.each(inputs)('%s', (file) => {
    const input: unknown = JSON.parse(readFileSync(path.join(testdata, 'input', file), 'utf8'));
    const expected = readFileSync(path.join(testdata, 'output', file));
    const outhex = readFileSync(
      path.join(testdata, 'outhex', file.replace(/\.json$/, '.txt')),
      'utf8',
    )
      .replace(/\s+/g, '')
      .toLowerCase();

    it('canonicalizes byte-exactly to output/', () => {
      expect(canonicalizeToBytes(input).equals(expected)).toBe(true);
      expect(canonicalize(input)).toBe(expected.toString('utf8'));
    });

    it('matches outhex/', () => {
      expect(canonicalizeToBytes(input).toString('hex')).toBe(outhex);
    });

    it('is idempotent on its own output', () => {
      const once = canonicalize(input);
      expect(canonicalize(JSON.parse(once))).toBe(once);
    });
  });
});

describe('RFC 8785 details', () => {
  it('serialises numbers as ECMAScript Number::toString (§3.2.2.3, Appendix B samples)', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [9007199254740994, '9007199254740994'],
      [9.999999999999997e-7, '9.999999999999997e-7'],
      [Number.MIN_VALUE, '5e-324'],
      [-Number.MAX_VALUE, '-1.7976931348623157e+308'],
      [295147905179352830000, '295147905179352830000'],
      [333333333.3333333, '333333333.3333333'],
    ];
    for (const [n, text] of cases) expect(canonicalize(n)).toBe(text);
  });

  it('sorts keys by UTF-16 code units, not code points or locale (§3.2.3)', () => {
    // U+FB33 (one unit 0xFB33) sorts after U+1F602 (surrogates 0xD83D 0xDE02).
    const out = canonicalize({ '\ufb33': 1, '\u{1f602}': 2, a: 3, B: 4, '\u00e9': 5 });
    expect(out).toBe('{"B":4,"a":3,"\u00e9":5,"\u{1f602}":2,"\ufb33":1}');
  });

  it('escapes per §3.2.2.2', () => {
    expect(canonicalize('\u0000\b\t\n\f\r\u001f"\\/\u007f€')).toBe(
      '"\\u0000\\b\\t\\n\\f\\r\\u001f\\"\\\\/\u007f€"',
    );
  });

  it('keeps shared acyclic references and null-prototype objects', () => {
    const shared = { x: 1 };
    const bare: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    bare.k = [shared, shared];
    expect(canonicalize({ a: shared, b: bare })).toBe('{"a":{"x":1},"b":{"k":[{"x":1},{"x":1}]}}');
  });

  it('keeps an own "__proto__" key from JSON.parse as data', () => {
    expect(canonicalize(JSON.parse('{"__proto__":1,"a":2}'))).toBe('{"__proto__":1,"a":2}');
  });

  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cyclicArray: unknown[] = [];
  cyclicArray.push([cyclicArray]);

  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity in an array', [Number.NEGATIVE_INFINITY]],
    ['undefined', undefined],
    ['undefined member', { a: undefined }],
    ['function', () => 1],
    ['symbol', Symbol('s')],
    ['BigInt', 1n],
    ['Date', new Date(0)],
    ['Map', new Map()],
    ['Buffer', Buffer.from('x')],
    [
      'class instance',
      new (class Point {
        readonly x = 1;
      })(),
    ],
    // eslint-disable-next-line no-sparse-arrays -- a hole is the very input under test
    ['sparse array', [1, , 3]],
    ['symbol key', { [Symbol('k')]: 1 }],
    ['lone surrogate value', '\ud800'],
    ['lone surrogate key', { '\udc00': 1 }],
    ['cyclic object', cyclic],
    ['cyclic array', cyclicArray],
  ])('rejects %s with TypeError', (_label, value) => {
    expect(() => canonicalize(value)).toThrow(TypeError);
  });
});
