import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkDoseRange,
  checkDrugAllergy,
  checkDuplicateTherapy,
  checkInteractions,
  runSafetyChecks,
  type SafetyDrug,
} from './safety-checks.js';
import {
  configuredInteractionTable,
  loadInteractionTable,
  NO_INTERACTIONS,
  parseInteractionCsv,
} from './interaction-table.js';

const TABLE_FILE = join(import.meta.dirname, '../../test/fixtures/interactions.csv');
const TABLE = loadInteractionTable(TABLE_FILE);

const oxycodone: SafetyDrug = {
  rxcui: '1049621',
  name: 'oxycodone hydrochloride 5 MG Oral Tablet',
  ingredients: [{ rxcui: '7804', name: 'oxycodone' }],
  limits: { maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' },
};
const warfarin: SafetyDrug = {
  rxcui: '855332',
  name: 'warfarin sodium 5 MG Oral Tablet',
  ingredients: [{ rxcui: '11289', name: 'warfarin' }],
  limits: null,
};
const aspirinMed = { rxcui: '243670', ingredients: [{ rxcui: '1191', name: 'aspirin' }] };
const tylenol3Med = {
  rxcui: '993781',
  ingredients: [
    { rxcui: '161', name: 'acetaminophen' },
    { rxcui: '2670', name: 'codeine' },
  ],
};

describe('drug-allergy', () => {
  it('finds a coded allergy to an ingredient', () => {
    const f = checkDrugAllergy(oxycodone, [{ ingredientRxcui: '7804' }]);
    expect(f).toEqual([
      expect.objectContaining({ kind: 'drug_allergy', severity: 'major', codes: ['7804'] }),
    ]);
  });
  it('finds a free-text allergy by ingredient name, case-insensitively and by whole word', () => {
    expect(checkDrugAllergy(oxycodone, [{ name: 'OxyCodone' }])).toHaveLength(1);
    expect(checkDrugAllergy(oxycodone, [{ name: 'oxycodone hydrochloride' }])).toHaveLength(1);
    expect(checkDrugAllergy(oxycodone, [{ name: 'oxy' }])).toEqual([]); // not a word match
  });
  it('is silent without a matching allergy, and never echoes the free text', () => {
    expect(
      checkDrugAllergy(oxycodone, [{ ingredientRxcui: '1191' }, { name: 'penicillin' }]),
    ).toEqual([]);
    const [f] = checkDrugAllergy(oxycodone, [{ name: 'OXYCODONE (hives, 2019, Dr Smith)' }]);
    expect(f?.message).not.toMatch(/hives|Smith/);
  });
});

describe('duplicate therapy', () => {
  it('finds the same ingredient in an active medication', () => {
    const f = checkDuplicateTherapy(
      { ...oxycodone, ingredients: [{ rxcui: '161', name: 'acetaminophen' }] },
      [tylenol3Med],
    );
    expect(f).toEqual([
      expect.objectContaining({ kind: 'duplicate_therapy', codes: ['161', '993781'] }),
    ]);
  });
  it('is silent when no ingredient is shared', () => {
    expect(checkDuplicateTherapy(oxycodone, [aspirinMed])).toEqual([]);
  });
});

describe('interactions', () => {
  it('finds a pair in either order with the table’s severity', () => {
    expect(checkInteractions(warfarin, [aspirinMed], TABLE)).toEqual([
      expect.objectContaining({ kind: 'interaction', severity: 'major', codes: ['11289', '1191'] }),
    ]);
    expect(checkInteractions(oxycodone, [tylenol3Med], TABLE)).toEqual([
      expect.objectContaining({ severity: 'major', codes: ['7804', '2670'] }),
    ]);
  });
  it('is silent for pairs not in the table', () => {
    expect(checkInteractions(oxycodone, [aspirinMed], TABLE)).toEqual([]);
  });
});

describe('dose range', () => {
  it('flags a single dose and a daily total above the limits', () => {
    const f = checkDoseRange(oxycodone, { amount: 40, unit: 'MG', timesPerDay: 4 });
    expect(f.map((x) => x.message)).toEqual([
      expect.stringContaining('maximum single dose of 30 mg'),
      expect.stringContaining('160 mg a day exceeds the maximum daily dose of 120 mg'),
    ]);
  });
  it('is silent within limits, without limits, or without a dose', () => {
    expect(checkDoseRange(oxycodone, { amount: 10, unit: 'mg', timesPerDay: 4 })).toEqual([]);
    expect(checkDoseRange(warfarin, { amount: 500, unit: 'mg' })).toEqual([]);
    expect(checkDoseRange(oxycodone, undefined)).toEqual([]);
  });
  it('says so when the unit differs instead of comparing numbers', () => {
    expect(checkDoseRange(oxycodone, { amount: 1, unit: 'tablet' })).toEqual([
      expect.objectContaining({ kind: 'dose_range', severity: 'minor' }),
    ]);
  });
});

describe('runSafetyChecks', () => {
  it('runs every check and orders findings by severity', () => {
    const f = runSafetyChecks({
      drug: oxycodone,
      allergies: [{ name: 'codeine' }],
      activeMedications: [tylenol3Med, { ingredients: [{ rxcui: '7804' }] }],
      dose: { amount: 45, unit: 'mg' },
      interactions: TABLE,
    });
    expect(f.map((x) => `${x.kind}:${x.severity}`)).toEqual([
      'interaction:major',
      'dose_range:major',
      'duplicate_therapy:moderate',
    ]);
  });
  it('returns nothing for a clean prescription', () => {
    expect(
      runSafetyChecks({
        drug: warfarin,
        allergies: [],
        activeMedications: [],
        interactions: TABLE,
      }),
    ).toEqual([]);
  });
});

describe('interaction table file', () => {
  it('loads the shipped test table', () => {
    expect(TABLE.size).toBe(4);
    expect(TABLE.between('7804', '11289')[0]?.description).toBe(
      'Opioid with warfarin: monitor for "unexpected" sedation and INR change',
    );
  });
  it('refuses bad files naming the line', () => {
    const h = 'ingredient_a_rxcui,ingredient_b_rxcui,severity,description\n';
    expect(() => parseInteractionCsv('a,b,c,d\n', 't.csv')).toThrow(/t\.csv line 1: the header/);
    expect(() => parseInteractionCsv(`${h}1,2,severe,x\n`, 't.csv')).toThrow(
      /t\.csv line 2: severity/,
    );
    expect(() => parseInteractionCsv(`${h}1,2,minor\n`, 't.csv')).toThrow(/line 2: expected 4/);
    expect(() => parseInteractionCsv(`${h}\n1,2,minor,x\n2,1,major,y\n`, 't.csv')).toThrow(
      /line 4: the pair 2\/1 appears twice/,
    );
    expect(() => parseInteractionCsv(`${h}1,2,minor,"open\n`, 't.csv')).toThrow(/quoting/);
    expect(() => parseInteractionCsv(`${h}x,2,minor,d\n`, 't.csv')).toThrow(/digits/);
  });
});

describe('the configured interaction table', () => {
  it('without SCRIP_INTERACTIONS_FILE: no table and one warning at start, naming the setting only', () => {
    const warnings: string[] = [];
    const log = { warn: (m: string) => warnings.push(m) };
    expect(configuredInteractionTable(undefined, log)).toBe(NO_INTERACTIONS);
    expect(warnings).toEqual([
      'interaction table not configured (SCRIP_INTERACTIONS_FILE): drug-drug interaction screening is off',
    ]);
    const table = configuredInteractionTable(TABLE_FILE, log);
    expect(table).not.toBe(NO_INTERACTIONS);
    expect(table.size).toBe(TABLE.size);
    expect(warnings).toHaveLength(1);
  });
});
