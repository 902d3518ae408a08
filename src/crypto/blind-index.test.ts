import { createHmac, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  blindIndexEquals,
  computeBlindIndex,
  dobIndex,
  lastNameDobIndex,
  lastNameIndex,
  mrnIndex,
  normalizeDob,
  normalizeLastName,
  normalizeMrn,
  normalizeUsPhone,
  usPhoneIndex,
  type BlindIndexKey,
} from './blind-index.js';

const tenantA: BlindIndexKey = { tenantId: 'tenant-a', key: Buffer.alloc(32, 0xa1) };
const tenantB: BlindIndexKey = { tenantId: 'tenant-b', key: Buffer.alloc(32, 0xb2) };

function expectValidationError(fn: () => unknown, field: string, secret: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  const err = caught as AppError;
  expect(err.code).toBe('validation_failed');
  expect(err.detail).toBe(field);
  if (secret.trim() !== '') expect(err.message).not.toContain(secret.trim());
}

describe('normalizeLastName', () => {
  it.each([
    ["O'Brien-Müller", 'obrienmuller'],
    ['  OBRIEN   MULLER ', 'obrienmuller'],
    ['Straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['ΣΑΣ ΤΕΣ', 'σαστεσ'],
    ['σαςτες', 'σαστεσ'],
    ['İlhan', 'ilhan'],
    ['Nguyễn', 'nguyen'],
    ["D'Ángelo", 'dangelo'],
    ['ｓｍｉｔｈ', 'smith'],
    ['ﬁsher', 'fisher'],
    ['Nguye\u0302\u0303n', 'nguyen'],
    ['김', '김'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeLastName(input)).toBe(expected);
  });

  it.each(['', '   ', "-'.", 'a\ud800'])('rejects %j', (input) => {
    expectValidationError(() => normalizeLastName(input), 'lastName', input);
  });
});

describe('normalizeDob', () => {
  it.each([
    ['1980-01-05', '1980-01-05'],
    [' 2024-02-29\n', '2024-02-29'],
    ['2000-02-29', '2000-02-29'],
    ['1800-01-01', '1800-01-01'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeDob(input)).toBe(expected);
  });

  it.each([
    '2023-02-29',
    '1900-02-29',
    '2024-13-01',
    '2024-00-10',
    '2024-04-31',
    '2024-01-00',
    '1799-12-31',
    '1980-1-5',
    '05/01/1980',
    '1980-01-05T00:00:00Z',
    '１９８０-01-05',
    '',
  ])('rejects %j', (input) => {
    expectValidationError(() => normalizeDob(input), 'dob', input);
  });
});

describe('normalizeMrn and normalizeUsPhone', () => {
  it('trims and upper-cases MRNs, folding full-width forms', () => {
    expect(normalizeMrn('  ab-00123x ')).toBe('AB-00123X');
    expect(normalizeMrn('ＡＢ１２３')).toBe('AB123');
    expectValidationError(() => normalizeMrn(' \t '), 'mrn', '');
  });

  it.each([
    ['(555) 010-0199', '5550100199'],
    ['+1 555 010 0199', '5550100199'],
    ['1-555-010-0199', '5550100199'],
    ['555.010.0199', '5550100199'],
    ['５５５０１００１９９', '5550100199'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeUsPhone(input)).toBe(expected);
  });

  it.each(['555-0199', '2-555-010-0199', '+44 20 7946 0958', '555-010-0199 x12', ''])(
    'rejects %j',
    (input) => {
      expectValidationError(() => normalizeUsPhone(input), 'phone', input);
    },
  );
});

describe('blind index MAC', () => {
  it('is HMAC-SHA-256 over the documented domain-separated, length-prefixed input', () => {
    const lp = (s: string): Buffer => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    };
    const expected = createHmac('sha256', Buffer.alloc(32, 0xa1))
      .update(
        Buffer.concat([
          Buffer.from('scrip:bi:v1:last-name-dob\0'),
          lp('tenant-a'),
          lp('obrienmuller'),
          lp('1980-01-05'),
        ]),
      )
      .digest('base64url');
    const actual = lastNameDobIndex(tenantA, "O'Brien-Müller", ' 1980-01-05');
    expect(actual).toBe(expected);
    expect(actual).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('matches across spellings that normalise alike', () => {
    expect(lastNameIndex(tenantA, 'Müller')).toBe(lastNameIndex(tenantA, 'MULLER'));
    expect(usPhoneIndex(tenantA, '+1 (555) 010-0199')).toBe(usPhoneIndex(tenantA, '5550100199'));
    expect(mrnIndex(tenantA, 'ab123 ')).toBe(mrnIndex(tenantA, 'AB123'));
    expect(dobIndex(tenantA, '1980-01-05')).toBe(dobIndex(tenantA, ' 1980-01-05 '));
  });

  it('separates index kinds, tenants, keys and part boundaries', () => {
    const kinds = ['last-name', 'dob', 'mrn', 'us-phone', 'last-name-dob'] as const;
    const sameValue = kinds.map((kind) => computeBlindIndex(tenantA, kind, ['5550100199']));
    expect(new Set(sameValue).size).toBe(kinds.length);

    const sameKeyOtherTenant = { tenantId: 'tenant-b', key: tenantA.key };
    expect(lastNameIndex(sameKeyOtherTenant, 'Smith')).not.toBe(lastNameIndex(tenantA, 'Smith'));
    expect(lastNameIndex(tenantB, 'Smith')).not.toBe(lastNameIndex(tenantA, 'Smith'));

    expect(computeBlindIndex(tenantA, 'last-name-dob', ['ab', 'c'])).not.toBe(
      computeBlindIndex(tenantA, 'last-name-dob', ['a', 'bc']),
    );
  });

  it('accepts a 32-byte secret KeyObject and refuses other keys', () => {
    const viaKeyObject = { tenantId: 'tenant-a', key: createSecretKey(Buffer.alloc(32, 0xa1)) };
    expect(lastNameIndex(viaKeyObject, 'Smith')).toBe(lastNameIndex(tenantA, 'Smith'));
    expect(() => lastNameIndex({ tenantId: 't', key: Buffer.alloc(16) }, 'Smith')).toThrow(
      TypeError,
    );
    expect(() => lastNameIndex({ tenantId: '', key: Buffer.alloc(32) }, 'Smith')).toThrow(
      TypeError,
    );
    expect(() => computeBlindIndex(tenantA, 'mrn', [])).toThrow(TypeError);
  });
});

describe('blindIndexEquals', () => {
  const a = lastNameIndex(tenantA, 'Smith');
  const b = lastNameIndex(tenantA, 'Smyth');

  it('is true only for identical well-formed 32-byte indexes', () => {
    expect(blindIndexEquals(a, lastNameIndex(tenantA, 'SMITH'))).toBe(true);
    expect(blindIndexEquals(a, b)).toBe(false);
    expect(blindIndexEquals(a, `${a}=`)).toBe(false);
    expect(blindIndexEquals(a.slice(0, 42), a.slice(0, 42))).toBe(false);
    expect(blindIndexEquals('AQI', 'AQI')).toBe(false);
    expect(blindIndexEquals('', '')).toBe(false);
  });
});
