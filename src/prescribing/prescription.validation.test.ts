import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import {
  checkScheduleIiSeries,
  deaElementsChanged,
  DEFAULT_LIMITS,
  limitsWith,
  missingElements,
  validateContent,
} from './prescription.validation.js';
import { transition, nextStatuses } from './prescription.state.js';
import type { PrescriptionContent } from './prescription.types.js';

const BASE: PrescriptionContent = {
  drug: {
    rxcui: '1049621',
    name: 'oxycodone hydrochloride 5 MG Oral Tablet',
    strength: '5 mg',
    doseForm: 'Oral Tablet',
    route: 'oral',
    ingredients: [],
    deaSchedule: 'CII',
  },
  quantity: { value: 20, unit: 'tablet' },
  daysSupply: 5,
  sig: 'Take 1 tablet every 6 hours as needed',
  refills: 0,
  substitutionAllowed: true,
  pharmacyNcpdpId: '1234567',
  practice: { line: '400 Main Street', city: 'Springfield', state: 'CA', postalCode: '90001' },
  deaNumber: 'AO1234563',
};

describe('prescription validation (21 CFR 1306.05, 1306.12, 1306.22)', () => {
  it('refuses refills on Schedule II, more than five on III/IV, bad ICD-10 and NCPDP ids', () => {
    expect(() => {
      validateContent(BASE);
    }).not.toThrow();
    expect(() => {
      validateContent({ ...BASE, refills: 1 });
    }).toThrow(/1306.12/);
    const civ = { ...BASE, drug: { ...BASE.drug, deaSchedule: 'CIV' as const } };
    expect(() => {
      validateContent({ ...civ, refills: 5 });
    }).not.toThrow();
    expect(() => {
      validateContent({ ...civ, refills: 6 });
    }).toThrow(/at most 5 refills/);
    expect(() => {
      validateContent({ ...BASE, diagnosis: { code: 'M54.5' } });
    }).not.toThrow();
    expect(() => {
      validateContent({ ...BASE, diagnosis: { code: 'back pain' } });
    }).toThrow(/ICD-10/);
    expect(() => {
      validateContent({ ...BASE, pharmacyNcpdpId: '12345' });
    }).toThrow(/NCPDP/);
    expect(() => {
      validateContent({ ...BASE, earliestFillDate: '2026-02-30' });
    }).toThrow(/YYYY-MM-DD/);
    expect(() => {
      validateContent({ ...BASE, daysSupply: 91 });
    }).toThrow(/at most 90 days/);
  });

  it('Schedule II series: one immediate, the rest dated, no overlap, at most 90 days', () => {
    const day = '2026-03-01';
    const first = { id: 'a', daysSupply: 30, earliestFillDate: undefined, issuedOn: day };
    expect(() => {
      checkScheduleIiSeries(first, []);
    }).not.toThrow();
    const second = { id: 'b', daysSupply: 30, earliestFillDate: '2026-03-31', issuedOn: day };
    const third = { id: 'c', daysSupply: 30, earliestFillDate: '2026-04-30', issuedOn: day };
    expect(() => {
      checkScheduleIiSeries(third, [first, second]);
    }).not.toThrow();
    expect(() => {
      checkScheduleIiSeries({ ...second, id: 'x', earliestFillDate: undefined }, [first]);
    }).toThrow(/earliest fill date/);
    expect(() => {
      checkScheduleIiSeries({ ...second, earliestFillDate: '2026-03-15' }, [first]);
    }).toThrow(/overlap/);
    expect(() => {
      checkScheduleIiSeries(
        { id: 'd', daysSupply: 30, earliestFillDate: '2026-05-30', issuedOn: day },
        [first, second, third],
      );
    }).toThrow(/90-day/);
  });

  it('lists the missing 1306.05(a) elements and detects changes of reviewed elements', () => {
    const ok = {
      patientName: 'Jordan Rivera',
      patientAddress: '12 Elm St',
      prescriberName: 'Dr O',
      content: BASE,
    };
    expect(missingElements(ok)).toEqual([]);
    expect(
      missingElements({ ...ok, patientAddress: '', content: { ...BASE, deaNumber: undefined } }),
    ).toEqual(['patient.address', 'prescriber.deaNumber']);
    expect(deaElementsChanged(BASE, { ...BASE, notesToPharmacist: 'x' })).toBe(false);
    expect(deaElementsChanged(BASE, { ...BASE, sig: 'Take 2' })).toBe(true);
    expect(deaElementsChanged(BASE, { ...BASE, earliestFillDate: '2026-04-01' })).toBe(true);
  });

  it('the lifecycle table allows only its moves, each by its own side', () => {
    expect(transition('draft', 'ready', 'clinic')).toBe('prescription.ready');
    expect(transition('queued', 'transmitted', 'network')).toBe('prescription.transmitted');
    expect(transition('acknowledged', 'dispensed', 'pharmacy')).toBe('prescription.dispensed');
    expect(() => transition('draft', 'signed', 'clinic')).toThrow(/not allowed/);
    expect(() => transition('queued', 'transmitted', 'clinic')).toThrow(/not allowed/);
    expect(() => transition('signed', 'draft', 'clinic')).toThrow(/not allowed/);
    expect(nextStatuses('dispensed')).toEqual([]);
  });
});

describe('operator limits (SCRIP_RX_LIMITS)', () => {
  const load = (value: string) =>
    limitsWith(loadConfig({ SCRIP_RX_LIMITS: value }).SCRIP_RX_LIMITS);

  it('overrides only the fields given; unset keeps the federal defaults', () => {
    expect(limitsWith(loadConfig({}).SCRIP_RX_LIMITS)).toEqual(DEFAULT_LIMITS);
    const l = load('{"CII":{"maxDaysSupply":30},"CIV":{"maxRefills":2,"maxQuantity":120}}');
    expect(l.CII).toEqual({ ...DEFAULT_LIMITS.CII, maxDaysSupply: 30 });
    expect(l.CIV).toEqual({ maxRefills: 2, maxDaysSupply: 180, maxQuantity: 120 });
    expect(l.none).toEqual(DEFAULT_LIMITS.none);
    const civ = { ...BASE, drug: { ...BASE.drug, deaSchedule: 'CIV' as const }, refills: 3 };
    expect(() => {
      validateContent(civ, l);
    }).toThrow(/refill/);
    expect(() => {
      validateContent({ ...BASE, daysSupply: 31 }, l);
    }).toThrow();
  });

  it('is validated strictly at start, naming the key; Schedule II refills stay zero', () => {
    for (const bad of [
      'not json',
      '[]',
      '{"CII":{"maxRefills":1}}',
      '{"CIII":{"maxRefills":6}}',
      '{"CVI":{"maxDaysSupply":30}}',
      '{"CII":{"maxDaysSupply":0}}',
      '{"CII":{"maxDaysSupply":"30"}}',
      '{"CII":{"maxDays":30}}',
    ]) {
      expect(() => load(bad)).toThrow(/SCRIP_RX_LIMITS/);
    }
    expect(limitsWith({ CII: { maxRefills: 3 } }).CII.maxRefills).toBe(0);
  });
});
