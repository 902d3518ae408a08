import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import {
  countdownStep,
  deadlineStatus,
  dueCountdownAlerts,
  noticeDeadlines,
  type BreachFacts,
  type NoticeDeadline,
} from '../../src/compliance/breach-clock.js';
import { utcDay } from '../../src/compliance/dates.js';

const DAY = 86_400_000;

/** A frozen clock on the discovery day (afternoon UTC, so day arithmetic never rounds). */
function frozen(day: string): ManualClock {
  return new ManualClock(Date.parse(`${day}T15:30:00Z`));
}

function facts(discoveredOn: string, affected: Record<string, number>): BreachFacts {
  return { discoveredOn, role: 'covered_entity', affectedByJurisdiction: affected };
}

function byRecipient(ds: readonly NoticeDeadline[]): Record<string, NoticeDeadline> {
  return Object.fromEntries(
    ds.map((d) => [`${d.recipient}${d.jurisdiction ? `:${d.jurisdiction}` : ''}`, d]),
  );
}

describe('HIPAA breach clock (45 CFR 164.404-164.410)', () => {
  it('fewer than 500 affected: individuals within 60 days, HHS in the annual log within 60 days after the calendar year', () => {
    const clock = frozen('2026-03-10');
    const ds = byRecipient(
      noticeDeadlines(facts(utcDay(clock.now()), { CA: 120, NV: 80, unknown: 3 })),
    );
    expect(Object.keys(ds).sort()).toEqual(['hhs', 'individuals']);
    expect(ds.individuals).toMatchObject({ dueOn: '2026-05-09', citation: '45 CFR 164.404(b)' });
    // Dec 31 2026 + 60 days = Mar 1 2027 (164.408(c)).
    expect(ds.hhs).toMatchObject({ dueOn: '2027-03-01', citation: '45 CFR 164.408(c)' });
    // The annual log follows the calendar year of discovery, not the breach date; leap years count.
    const late = byRecipient(noticeDeadlines(facts('2027-12-30', { TX: 10 })));
    expect(late.hhs?.dueOn).toBe('2028-02-29');
    expect(late.individuals?.dueOn).toBe('2028-02-28');
    // On the discovery day, the annual deadline is far away and nothing is due yet.
    const status = deadlineStatus(
      noticeDeadlines(facts('2026-03-10', { CA: 10 })),
      [],
      utcDay(clock.now()),
    );
    expect(status.map((s) => [s.recipient, s.state, s.daysLeft])).toEqual([
      ['individuals', 'pending', 60],
      ['hhs', 'pending', 356],
    ]);
  });

  it('500 or more affected: HHS with the individual notices (same 60-day limit)', () => {
    const ds = byRecipient(noticeDeadlines(facts('2026-03-10', { CA: 300, NV: 150, unknown: 50 })));
    expect(ds.hhs).toMatchObject({ dueOn: '2026-05-09', citation: '45 CFR 164.408(b)' });
    expect(ds.hhs?.dueOn).toBe(ds.individuals?.dueOn);
    expect(ds.media).toBeUndefined();
    // 499 stays in the annual log.
    expect(byRecipient(noticeDeadlines(facts('2026-03-10', { CA: 499 }))).hhs?.citation).toBe(
      '45 CFR 164.408(c)',
    );
  });

  it('more than 500 residents of one State: media notice for that State within 60 days', () => {
    const ds = byRecipient(noticeDeadlines(facts('2026-03-10', { CA: 501, TX: 900, NV: 20 })));
    expect(ds['media:CA']).toMatchObject({ dueOn: '2026-05-09', citation: '45 CFR 164.406(b)' });
    expect(ds['media:TX']?.dueOn).toBe('2026-05-09');
    expect(ds['media:NV']).toBeUndefined();
    expect(ds.hhs?.citation).toBe('45 CFR 164.408(b)');
  });

  it('exactly 500 in one State: no media notice (the rule says more than 500), but HHS with the individuals', () => {
    const ds = noticeDeadlines(facts('2026-03-10', { CA: 500 }));
    expect(ds.filter((d) => d.recipient === 'media')).toEqual([]);
    expect(byRecipient(ds).hhs?.citation).toBe('45 CFR 164.408(b)');
    // Residents of unknown State never trigger media notice, however many.
    expect(
      noticeDeadlines(facts('2026-03-10', { unknown: 5000 })).some((d) => d.recipient === 'media'),
    ).toBe(false);
    // Many States each at or under 500 do not add up to a media notice either.
    expect(
      noticeDeadlines(facts('2026-03-10', { CA: 500, NY: 500, TX: 500 })).some(
        (d) => d.recipient === 'media',
      ),
    ).toBe(false);
  });

  it('60 calendar days is the outer limit: day 60 is the last day, day 61 is overdue and a notice then is late', () => {
    const clock = frozen('2026-03-10');
    const ds = noticeDeadlines(facts('2026-03-10', { CA: 700 }));
    const at = (days: number, sent: { sentOn: string }[] = []) => {
      const c = new ManualClock(clock.now().getTime() + days * DAY);
      return deadlineStatus(
        ds,
        sent.map((s) => ({
          recipient: 'individuals' as const,
          jurisdiction: null,
          sentOn: s.sentOn,
        })),
        utcDay(c.now()),
      ).find((d) => d.recipient === 'individuals');
    };
    expect(at(59)).toMatchObject({ dueOn: '2026-05-09', daysLeft: 1, state: 'pending' });
    expect(at(60)).toMatchObject({ daysLeft: 0, state: 'pending' });
    expect(at(61)).toMatchObject({ daysLeft: -1, state: 'overdue' });
    expect(at(61, [{ sentOn: '2026-05-09' }])).toMatchObject({
      state: 'met',
      sentOn: '2026-05-09',
    });
    expect(at(70, [{ sentOn: '2026-05-10' }])).toMatchObject({ state: 'met_late' });
    // Every 60-day deadline (individuals, HHS for 500+, media) ends on the same day, whatever the counts.
    for (const d of ds) expect(d.dueOn).toBe('2026-05-09');
  });

  it('a business associate owes the covered entity notice within 60 days (164.410(b)), nothing else', () => {
    const ds = noticeDeadlines({
      discoveredOn: '2026-03-10',
      role: 'business_associate',
      affectedByJurisdiction: { CA: 5000 },
    });
    expect(ds).toEqual([
      expect.objectContaining({
        recipient: 'covered_entity',
        dueOn: '2026-05-09',
        citation: '45 CFR 164.410(b)',
      }),
    ]);
  });

  it('countdown steps fire once each, only the step a deadline has reached, and stop once the notice is sent', () => {
    const clock = frozen('2026-03-10');
    const ds = noticeDeadlines(facts('2026-03-10', { CA: 10 })); // individuals 2026-05-09, HHS 2027-03-01
    const raised = new Set<string>();
    const tick = (sent: { sentOn: string }[] = []) => {
      const statuses = deadlineStatus(
        ds,
        sent.map((s) => ({
          recipient: 'individuals' as const,
          jurisdiction: null,
          sentOn: s.sentOn,
        })),
        utcDay(clock.now()),
      );
      const due = dueCountdownAlerts(statuses, raised);
      for (const a of due) raised.add(a.key);
      return due.map((a) => `${a.deadline.recipient}:${String(a.step)}`);
    };
    expect(tick()).toEqual([]); // 60 days left
    clock.advance(29 * DAY); // 31 left
    expect(tick()).toEqual([]);
    clock.advance(DAY); // 30 left
    expect(tick()).toEqual(['individuals:30']);
    expect(tick()).toEqual([]); // the same step never fires twice
    clock.advance(20 * DAY); // 10 left: still the 14-day step's turn once
    expect(tick()).toEqual(['individuals:14']);
    clock.advance(5 * DAY); // 5 left: 7 fires, never 30 or 14 again
    expect(tick()).toEqual(['individuals:7']);
    clock.advance(5 * DAY); // 0 left: the 1-day step
    expect(tick()).toEqual(['individuals:1']);
    clock.advance(DAY); // past the limit
    expect(tick()).toEqual(['individuals:overdue']);
    expect(tick()).toEqual([]);
    // A notice recorded silences the deadline.
    expect(tick([{ sentOn: '2026-05-10' }])).toEqual([]);
    expect(countdownStep(31)).toBeNull();
    expect(countdownStep(2)).toBe(7);
    expect(countdownStep(-3)).toBe('overdue');
  });
});
