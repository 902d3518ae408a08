import { describe, expect, it } from 'vitest';
import { defaultDeaNumber } from '../../web/src/screens/epcs-dea.js';

/** The EPCS screen's default DEA number (web/src/screens/EpcsSign.tsx). */
describe('EPCS sign screen: the default DEA registration', () => {
  const numbers = ['AO1234563', 'BO7654321'];
  const items = [
    { id: 'a', status: 'draft', deaNumber: null },
    { id: 'b', status: 'ready', deaNumber: 'BO7654321' },
  ];

  it("is the reviewed item's DEA number, not the prescriber's first registration", () => {
    expect(defaultDeaNumber(items, new Set(), numbers)).toBe('BO7654321');
    expect(defaultDeaNumber(items, new Set(['b']), numbers)).toBe('BO7654321');
    const two = [...items, { id: 'c', status: 'ready', deaNumber: 'AO1234563' }];
    expect(defaultDeaNumber(two, new Set(['c']), numbers)).toBe('AO1234563');
  });

  it('with nothing reviewed: the only registration, or none to pick among several', () => {
    expect(defaultDeaNumber(items.slice(0, 1), new Set(), ['AO1234563'])).toBe('AO1234563');
    expect(defaultDeaNumber([], new Set(), numbers)).toBe('');
  });
});
