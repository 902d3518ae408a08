import { describe, expect, it } from 'vitest';
import { addDays, isTimeZone, localDate, localDayBounds, withinHours } from './time-zone.js';

describe('time zones through Intl', () => {
  it('gives the UTC bounds of a local day, across DST changes', () => {
    expect(localDayBounds('2026-05-11', 'America/Chicago')).toEqual({
      start: new Date('2026-05-11T05:00:00Z'),
      end: new Date('2026-05-12T05:00:00Z'),
    });
    // 2026-03-08: US clocks spring forward, a 23-hour day; 2026-11-01 falls back, 25 hours.
    const spring = localDayBounds('2026-03-08', 'America/New_York');
    expect(spring).toEqual({
      start: new Date('2026-03-08T05:00:00Z'),
      end: new Date('2026-03-09T04:00:00Z'),
    });
    const fall = localDayBounds('2026-11-01', 'America/New_York');
    expect(fall.end.getTime() - fall.start.getTime()).toBe(25 * 3_600_000);
    expect(localDayBounds('2026-01-01', 'Asia/Kolkata').start).toEqual(
      new Date('2025-12-31T18:30:00Z'),
    );
    // A zone whose midnight is skipped by DST (America/Santiago, 2026-09-06 00:00 -> 01:00).
    const santiago = localDayBounds('2026-09-06', 'America/Santiago');
    expect(localDate(santiago.start, 'America/Santiago')).toBe('2026-09-06');
    expect(localDate(new Date(santiago.start.getTime() - 1), 'America/Santiago')).toBe(
      '2026-09-05',
    );
  });

  it('checks working hours, including overnight shifts and weekends', () => {
    const hours = {
      timeZone: 'Europe/Berlin',
      start: '08:00',
      end: '18:00',
      days: [1, 2, 3, 4, 5],
    };
    expect(withinHours(new Date('2026-07-07T06:00:00Z'), hours)).toBe(true); // Tue 08:00 CEST
    expect(withinHours(new Date('2026-07-07T05:59:00Z'), hours)).toBe(false);
    expect(withinHours(new Date('2026-07-07T16:00:00Z'), hours)).toBe(false); // 18:00
    expect(withinHours(new Date('2026-07-11T10:00:00Z'), hours)).toBe(false); // Saturday
    const night = { timeZone: 'UTC', start: '22:00', end: '06:00', days: [1] };
    expect(withinHours(new Date('2026-07-06T23:00:00Z'), night)).toBe(true); // Mon 23:00
    expect(withinHours(new Date('2026-07-07T05:00:00Z'), night)).toBe(true); // Tue 05:00, Monday's shift
    expect(withinHours(new Date('2026-07-06T05:00:00Z'), night)).toBe(false); // Mon 05:00, Sunday's
  });

  it('knows zone names and adds days', () => {
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
  });
});
