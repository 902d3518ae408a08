import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { assertValidNpi, isValidNpi, npiCheckDigit, validateNpi } from './npi.js';

interface NpiCase {
  npi: string;
  valid: boolean;
  why: string;
}

const repoRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const file = path.resolve(repoRoot, '../shared/vectors/npi_dea_checkdigits.json');
const data = (
  JSON.parse(readFileSync(file, 'utf8')) as {
    npi: {
      workedExample: { base9: string; checkDigit: number; npi: string };
      cases: NpiCase[];
    };
  }
).npi;

const expectedReason: Record<string, string> = {
  'check digit ok': '',
  'bad check digit': 'check_digit',
  'must start with 1 or 2': 'prefix',
  length: 'format',
};

describe('NPI vectors (../shared/vectors/npi_dea_checkdigits.json)', () => {
  it('reproduces the CMS worked example', () => {
    const { base9, checkDigit, npi } = data.workedExample;
    expect(npiCheckDigit(base9)).toBe(checkDigit);
    expect(isValidNpi(npi)).toBe(true);
  });

  it('covers every case', () => {
    expect(data.cases.length).toBeGreaterThanOrEqual(6);
  });

  it.each(data.cases)('$npi valid=$valid ($why)', (c) => {
    expect(isValidNpi(c.npi)).toBe(c.valid);
    const reason = expectedReason[c.why];
    expect(reason).toBeDefined();
    expect(validateNpi(c.npi)).toEqual(reason === '' ? [] : [reason]);
  });
});

describe('validateNpi', () => {
  it('every wrong check digit is refused, exactly one is accepted', () => {
    const base = '155859879';
    const accepted = Array.from({ length: 10 }, (_, d) => `${base}${d}`).filter(isValidNpi);
    expect(accepted).toEqual(['1558598797']);
  });

  it('refuses non-ASCII digits, whitespace and 11 digits', () => {
    expect(validateNpi('１234567893')).toEqual(['format']);
    expect(validateNpi(' 1234567893')).toEqual(['format']);
    expect(validateNpi('12345678930')).toEqual(['format']);
    expect(validateNpi('')).toEqual(['format']);
  });

  it('assertValidNpi throws validation_failed with the reason', () => {
    expect(() => {
      assertValidNpi('1234567893');
    }).not.toThrow();
    try {
      assertValidNpi('1234567890');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('validation_failed');
      expect((err as AppError).detail).toBe('npi:check_digit');
    }
  });

  it('npiCheckDigit refuses malformed bases', () => {
    expect(() => npiCheckDigit('12345678')).toThrow(TypeError);
  });
});
