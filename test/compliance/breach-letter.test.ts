import { describe, expect, it } from 'vitest';
import {
  LETTER_PLACEHOLDERS,
  draftBreachLetter,
  missingElements,
  type LetterFacts,
} from '../../src/compliance/breach-letter.js';
import { checkAssessment } from '../../src/compliance/breach-assessment.js';
import { retainUntil } from '../../src/compliance/program-common.js';
import { addMonths } from '../../src/compliance/dates.js';

const facts: LetterFacts = {
  organisation: 'First Clinic',
  occurredFrom: '2026-03-01',
  occurredTo: '2026-03-03',
  discoveredOn: '2026-03-05',
  phiTypes: ['full_name', 'medications'],
  notice: {
    whatHappened: 'A report listing prescriptions was e-mailed to the wrong address.',
    stepsIndividualsShouldTake: 'No action is needed; watch for unexpected pharmacy messages.',
    whatWeAreDoing: 'The recipient confirmed deletion; we now check addresses before sending.',
    contact: { tollFreeNumber: '(877) 555-0199', postalAddress: '1 Main St, Springfield' },
  },
};

describe('draft breach letter (45 CFR 164.404(c))', () => {
  it('holds every required element and only placeholders for the individual', () => {
    const d = draftBreachLetter(facts);
    expect(d.body).toContain(
      'The breach occurred between 2026-03-01 and 2026-03-03. We discovered it on 2026-03-05.',
    );
    expect(d.body).toContain(
      'The information involved was: full name; medications and prescription details.',
    );
    expect(d.body).toContain(
      'Call us toll-free at (877) 555-0199. You can also write to us at 1 Main St, Springfield.',
    );
    for (const p of LETTER_PLACEHOLDERS) expect(d.body).toContain(p);
    expect(d.elements).toHaveLength(5);
    expect(draftBreachLetter({ ...facts, occurredFrom: null, occurredTo: null }).body).toContain(
      'We do not know the exact date of the breach.',
    );
  });

  it('names what is missing: a toll-free number and one more channel, PHI types, each text', () => {
    const n = facts.notice!;
    expect(missingElements(facts)).toEqual([]);
    expect(missingElements({ ...facts, notice: null })).toEqual([
      'whatHappened',
      'stepsIndividualsShouldTake',
      'whatWeAreDoing',
      'contact.tollFreeNumber',
      'contact.emailWebsiteOrPostalAddress',
    ]);
    expect(missingElements({ ...facts, phiTypes: [] })).toEqual(['phiTypes']);
    expect(
      missingElements({
        ...facts,
        notice: { ...n, contact: { tollFreeNumber: '617-555-0100', email: 'a@b.example' } },
      }),
    ).toEqual(['contact.tollFreeNumber']);
    expect(
      missingElements({
        ...facts,
        notice: { ...n, contact: { tollFreeNumber: '1-866-555-0100' } },
      }),
    ).toEqual(['contact.emailWebsiteOrPostalAddress']);
    expect(() => draftBreachLetter({ ...facts, phiTypes: [] })).toThrow(/phiTypes/);
  });

  it('refuses placeholder syntax in typed text, exceptions that do not fit the decision, and future discovery', () => {
    const base = {
      factors: {
        natureAndExtent: { rating: 'low' as const, rationale: 'names only' },
        unauthorizedPerson: { rating: 'low' as const, rationale: 'another covered entity' },
        acquiredOrViewed: { rating: 'low' as const, rationale: 'returned unopened' },
        mitigation: { rating: 'low' as const, rationale: 'written assurance of destruction' },
      },
      decision: 'low_probability' as const,
      exception: null,
      rationale: 'All four factors low.',
      role: 'covered_entity' as const,
      discoveredOn: '2026-03-05',
      occurredFrom: null,
      occurredTo: null,
      affectedByJurisdiction: { CA: 1, unknown: 0 },
      phiTypes: ['full_name' as const],
      notice: null,
    };
    expect(checkAssessment(base, '2026-03-06').affectedByJurisdiction).toEqual({ CA: 1 });
    expect(() =>
      checkAssessment(
        { ...base, notice: { ...facts.notice!, whatHappened: 'Dear {{recipient_name}}' } },
        '2026-03-06',
      ),
    ).toThrow(/\{\{/);
    expect(() => checkAssessment({ ...base, decision: 'not_breach' }, '2026-03-06')).toThrow(
      /exception/,
    );
    expect(() => checkAssessment({ ...base, exception: 'secured_phi' }, '2026-03-06')).toThrow(
      /exception/,
    );
    expect(
      checkAssessment({ ...base, decision: 'not_breach', exception: 'secured_phi' }, '2026-03-06')
        .decision,
    ).toBe('not_breach');
    expect(() => checkAssessment(base, '2026-03-04')).toThrow(/future/);
    expect(() =>
      checkAssessment({ ...base, affectedByJurisdiction: { ZZ: 3 } }, '2026-03-06'),
    ).toThrow(/jurisdiction/);
  });

  it('retention: six years from creation or the last effective date, whichever is later', () => {
    expect(retainUntil('2026-03-10')).toBe('2032-03-10');
    expect(retainUntil('2026-03-10', '2027-01-01')).toBe('2033-01-01');
    expect(retainUntil('2028-02-29')).toBe('2034-03-01');
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
  });
});
