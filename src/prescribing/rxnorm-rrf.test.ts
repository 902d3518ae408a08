import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRxNormRelease, routeOfDoseForm } from './rxnorm-rrf.js';
import { RXNSAT, splitRrfLine } from './rrf-reader.js';
import { deaScheduleFromDcsa, normalizeNdc } from './drug.js';
import { packagePath } from '../db/index.js';

/** The small RxNorm release shipped for the demo (demo/rxnorm), also the tests' fixture. */
const FIXTURE = packagePath('demo', 'rxnorm');

function copyFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scrip-rrf-'));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

describe('RRF lines', () => {
  it('accepts the trailing bar or its absence, and refuses another field count', () => {
    const twelve = Array.from({ length: 13 }, (_, i) => String(i)).join('|');
    expect(splitRrfLine(RXNSAT, `${twelve}|`, 1)).toHaveLength(13);
    expect(splitRrfLine(RXNSAT, twelve, 1)).toHaveLength(13);
    expect(() => splitRrfLine(RXNSAT, 'a|b|c|', 7)).toThrow(
      /RXNSAT\.RRF line 7: expected 13 fields, found 3/,
    );
  });
});

describe('NDC and schedule codes', () => {
  it('normalises NDCs to 11 digits and refuses ambiguous ones', () => {
    expect(normalizeNdc('00406055201')).toBe('00406055201');
    expect(normalizeNdc('0406-0552-01')).toBe('00406055201'); // 4-4-2
    expect(normalizeNdc('00406-552-01')).toBe('00406055201'); // 5-3-2
    expect(normalizeNdc('00406-0552-1')).toBe('00406055201'); // 5-4-1
    expect(normalizeNdc('00406-0552-01')).toBe('00406055201'); // 5-4-2
    expect(() => normalizeNdc('0406055201')).toThrow(/not an NDC/); // bare 10 digits: ambiguous
    expect(() => normalizeNdc('406-52-01')).toThrow(/not an NDC/);
  });

  it('maps DCSA values to schedules', () => {
    expect(deaScheduleFromDcsa('CII')).toBe('CII');
    expect(deaScheduleFromDcsa('C-III')).toBe('CIII');
    expect(deaScheduleFromDcsa('2N')).toBe('CII');
    expect(deaScheduleFromDcsa('4')).toBe('CIV');
    expect(deaScheduleFromDcsa('0')).toBeNull();
    expect(deaScheduleFromDcsa('CI')).toBe('CI');
    expect(deaScheduleFromDcsa('maybe')).toBeUndefined();
  });

  it('derives a route from the dose form', () => {
    expect(routeOfDoseForm('Oral Tablet')).toBe('oral');
    expect(routeOfDoseForm('Injectable Solution')).toBe('injection');
    expect(routeOfDoseForm('Powder')).toBeNull();
  });
});

describe('readRxNormRelease (fixture)', () => {
  it('reads the prescribable drugs with ingredients, NDCs, dose form and schedule', async () => {
    const r = await readRxNormRelease(FIXTURE);
    const byCui = new Map(r.drugs.map((d) => [d.rxcui, d]));
    expect([...byCui.keys()].sort()).toEqual(
      ['1049621', '1049683', '243670', '313782', '314076', '855332', '993781'].sort(),
    );
    const oxy = byCui.get('1049621');
    expect(oxy).toMatchObject({
      tty: 'SCD',
      name: 'oxycodone hydrochloride 5 MG Oral Tablet',
      strength: '5 MG',
      doseForm: 'Oral Tablet',
      route: 'oral',
      ingredients: [{ rxcui: '7804', name: 'oxycodone' }], // through the SCDC component
      ndcs: ['00406055201', '00406055205'], // the MTHSPL hyphenated NDC is not RxNorm's
      deaSchedule: 'CII', // asserted for the brand, holds for the clinical drug
    });
    expect(byCui.get('1049683')).toMatchObject({
      tty: 'SBD',
      ingredients: [{ rxcui: '7804', name: 'oxycodone' }], // through tradename_of
      deaSchedule: 'CII',
    });
    expect(byCui.get('993781')?.ingredients.map((i) => i.rxcui)).toEqual(['161', '2670']);
    expect(byCui.get('993781')?.deaSchedule).toBe('CIII');
    expect(byCui.get('314076')?.deaSchedule).toBeNull();
    expect(r.retire).toEqual(['197379']); // SUPPRESS=O
    expect(r.skipped).toEqual({ noIngredients: 0, scheduleI: 0 });
  });

  it('refuses a malformed line, naming the file and line', async () => {
    const dir = copyFixture();
    const path = join(dir, 'RXNSAT.RRF');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[4] = '313782|only|four|fields|';
    writeFileSync(path, lines.join('\n'));
    await expect(readRxNormRelease(dir)).rejects.toThrow(
      'RXNSAT.RRF line 5: expected 13 fields, found 4',
    );
  });

  it('refuses an unknown DCSA value and a non-11-digit RxNorm NDC', async () => {
    const dir = copyFixture();
    const path = join(dir, 'RXNSAT.RRF');
    writeFileSync(
      path,
      `${readFileSync(path, 'utf8')}313782||||CUI|313782|AT9||DCSA|MTHSPL|sometimes|N|4096|\n`,
    );
    await expect(readRxNormRelease(dir)).rejects.toThrow(/RXNSAT\.RRF line 19: DCSA/);
    const dir2 = copyFixture();
    const path2 = join(dir2, 'RXNSAT.RRF');
    writeFileSync(
      path2,
      `313782||||CUI|313782|AT9||NDC|RXNORM|0904-1982-61|N|4096|\n${readFileSync(path2, 'utf8')}`,
    );
    await expect(readRxNormRelease(dir2)).rejects.toThrow(/RXNSAT\.RRF line 1: NDC/);
  });

  it('refuses a missing file by name', async () => {
    await expect(readRxNormRelease(join(FIXTURE, 'nowhere'))).rejects.toThrow(
      /RXNCONSO\.RRF not found/,
    );
  });
});
