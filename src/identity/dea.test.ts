import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { assertValidDea, deaCheckDigit, isValidDea, validateDea } from './dea.js';

interface DeaCase {
  dea: string;
  valid: boolean;
  expectedCheckDigit: number;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/npi_dea_checkdigits.json');
const data = (
  JSON.parse(readFileSync(file, 'utf8')) as {
    dea: { workedExample: { dea: string; checkDigit: number }; cases: DeaCase[] };
  }
).dea;

describe('DEA vectors (../shared/vectors/npi_dea_checkdigits.json)', () => {
  it('reproduces the worked example', () => {
    expect(deaCheckDigit(data.workedExample.dea.slice(2, 8))).toBe(data.workedExample.checkDigit);
    expect(isValidDea(data.workedExample.dea)).toBe(true);
  });

  it('has 15 cases', () => {
    expect(data.cases).toHaveLength(15);
  });

  it.each(data.cases)('$dea valid=$valid', (c) => {
    expect(deaCheckDigit(c.dea.slice(2, 8))).toBe(c.expectedCheckDigit);
    expect(validateDea(c.dea)).toEqual(c.valid ? [] : ['check_digit']);
    expect(isValidDea(c.dea.toLowerCase())).toBe(c.valid);
  });
});

describe('validateDea', () => {
  it('checks the second letter against the last name when given', () => {
    expect(validateDea('AP5836727', { lastName: 'Patel' })).toEqual([]);
    expect(validateDea('AP5836727', { lastName: "  o'Patel" })).toEqual(['name_mismatch']);
    expect(validateDea('AP5836727', { lastName: 'Smith' })).toEqual(['name_mismatch']);
    expect(validateDea('AS9432042', { lastName: 'Šimek' })).toEqual([]);
    expect(validateDea('AS9432042', { lastName: '' })).toEqual(['name_mismatch']);
  });

  it('accepts 9 as the second character for business-address registrants', () => {
    const digits = '123456';
    const dea = `F9${digits}${String(deaCheckDigit(digits))}`;
    expect(dea).toBe('F91234563');
    expect(validateDea(dea, { lastName: 'Anything' })).toEqual([]);
  });

  it('refuses unknown registrant types and reports every reason', () => {
    expect(validateDea('NP5836727')).toEqual(['registrant_type']);
    expect(validateDea('ZP5836720', { lastName: 'Jones' })).toEqual([
      'registrant_type',
      'check_digit',
      'name_mismatch',
    ]);
  });

  it('refuses malformed numbers with format only', () => {
    for (const bad of [
      '',
      'AP583672',
      'AP58367270',
      '9P5836727',
      'A 5836727',
      'AP583672X',
      'AP5836727-001AB',
      'ΑP5836727',
      'ſP5836727',
      'AſP836727',
    ]) {
      expect(validateDea(bad), bad).toEqual(['format']);
    }
  });

  it('assertValidDea throws validation_failed listing the reasons', () => {
    expect(() => {
      assertValidDea('AP5836727', { lastName: 'Park' });
    }).not.toThrow();
    try {
      assertValidDea('AP5836729', { lastName: 'Smith' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('validation_failed');
      expect((err as AppError).detail).toBe('dea:check_digit,name_mismatch');
    }
  });
});
