import { describe, expect, it } from 'vitest';
import {
  checkContextPolicy,
  evaluateContext,
  inNetworks,
  parseCidr,
  type ContextPolicy,
} from './context-policy.js';

const at = (iso: string): Date => new Date(iso);

describe('CIDR rules match address ranges, not string prefixes', () => {
  it('10.0.0.1 does not match 10.0.0.100/32, and 10.0.0.100 does not match 10.0.0.1/32', () => {
    expect(inNetworks('10.0.0.1', ['10.0.0.100/32'])).toBe(false);
    expect(inNetworks('10.0.0.100', ['10.0.0.1/32'])).toBe(false);
    expect(inNetworks('10.0.0.1', ['10.0.0.1/32'])).toBe(true);
    expect(inNetworks('10.0.0.100', ['10.0.0.100/32'])).toBe(true);
  });

  it('matches prefixes by bits', () => {
    expect(inNetworks('10.0.0.255', ['10.0.0.0/24'])).toBe(true);
    expect(inNetworks('10.0.1.0', ['10.0.0.0/24'])).toBe(false);
    expect(inNetworks('192.168.7.9', ['192.168.0.0/16', '10.0.0.0/8'])).toBe(true);
    expect(inNetworks('100.0.0.1', ['10.0.0.0/8'])).toBe(false);
    expect(inNetworks('172.31.255.255', ['172.16.0.0/12'])).toBe(true);
    expect(inNetworks('172.32.0.0', ['172.16.0.0/12'])).toBe(false);
  });

  it('handles IPv6 and the IPv4-mapped form of dual-stack sockets', () => {
    expect(inNetworks('2001:db8::1', ['2001:db8::/32'])).toBe(true);
    expect(inNetworks('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    expect(inNetworks('::ffff:10.0.0.1', ['10.0.0.0/8'])).toBe(true);
    expect(inNetworks('::ffff:10.0.0.1', ['10.0.0.100/32'])).toBe(false);
    expect(inNetworks('10.0.0.1', ['2001:db8::/32'])).toBe(false);
  });

  it('treats a bare address as a single host and refuses malformed blocks', () => {
    expect(parseCidr('10.0.0.1')).toEqual({ address: '10.0.0.1', prefix: 32, family: 'ipv4' });
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0/8',
      '10.0.0.0/',
      '10.0.0.0/8/1',
      'host/8',
      '::/129',
      '10.0.0.0/-1',
      '10.0.0.0/ 8',
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(/CIDR|prefix/);
    }
    expect(inNetworks('not-an-ip', ['0.0.0.0/0'])).toBe(false);
  });
});

describe('hour windows per role, in the rule’s time zone', () => {
  const policy: ContextPolicy = checkContextPolicy({
    hours: [
      {
        roles: ['prescriber_agent'],
        timeZone: 'America/New_York',
        days: [1, 2, 3, 4, 5],
        start: '08:00',
        end: '18:00',
        onFail: 'deny',
      },
    ],
  });
  const agent = (now: Date) =>
    evaluateContext(policy, {
      ip: '10.0.0.1',
      trustedDevice: false,
      roles: ['prescriber_agent'],
      now,
    });

  it('allows inside the local window and denies outside it', () => {
    // Monday 2026-03-02 13:00Z = 08:00 EST: open; 12:59Z = 07:59 EST: closed.
    expect(agent(at('2026-03-02T13:00:00Z')).decision).toBe('allow');
    expect(agent(at('2026-03-02T12:59:00Z'))).toEqual({ decision: 'deny', reasons: ['hours'] });
    // 22:59Z = 17:59 EST open; 23:00Z = 18:00 EST closed.
    expect(agent(at('2026-03-02T22:59:00Z')).decision).toBe('allow');
    expect(agent(at('2026-03-02T23:00:00Z')).decision).toBe('deny');
  });

  it('follows daylight saving time (EDT after 2026-03-08)', () => {
    // Monday 2026-03-09 12:00Z = 08:00 EDT: open (it would be 07:00 EST).
    expect(agent(at('2026-03-09T12:00:00Z')).decision).toBe('allow');
    expect(agent(at('2026-03-09T11:59:00Z')).decision).toBe('deny');
  });

  it('uses the local weekday: Friday 23:30 in New York is Saturday in UTC', () => {
    // Friday 2026-03-06 17:30 EST = 22:30Z (open); Saturday 2026-03-07 14:00Z = 09:00 EST (closed).
    expect(agent(at('2026-03-06T22:30:00Z')).decision).toBe('allow');
    expect(agent(at('2026-03-07T14:00:00Z')).decision).toBe('deny');
  });

  it('uses the zone’s own offset (Asia/Kolkata, UTC+05:30)', () => {
    const p = checkContextPolicy({
      hours: [
        {
          roles: ['pharmacist'],
          timeZone: 'Asia/Kolkata',
          days: [0, 1, 2, 3, 4, 5, 6],
          start: '09:00',
          end: '17:00',
          onFail: 'step_up',
        },
      ],
    });
    const ph = (now: Date) =>
      evaluateContext(p, { ip: '10.0.0.1', trustedDevice: false, roles: ['pharmacist'], now })
        .decision;
    expect(ph(at('2026-03-02T03:30:00Z'))).toBe('allow'); // 09:00 IST
    expect(ph(at('2026-03-02T03:29:00Z'))).toBe('step_up'); // 08:59 IST
  });

  it('does not constrain roles the rule does not name', () => {
    const r = evaluateContext(policy, {
      ip: '10.0.0.1',
      trustedDevice: false,
      roles: ['prescriber'],
      now: at('2026-03-07T03:00:00Z'),
    });
    expect(r.decision).toBe('allow');
  });

  it('refuses unknown time zones and malformed times', () => {
    expect(() =>
      checkContextPolicy({
        hours: [
          {
            roles: ['x'],
            timeZone: 'Mars/Olympus',
            days: [1],
            start: '08:00',
            end: '18:00',
            onFail: 'deny',
          },
        ],
      }),
    ).toThrow(/time zone/);
    expect(() =>
      checkContextPolicy({
        hours: [
          {
            roles: ['x'],
            timeZone: 'UTC',
            days: [1],
            start: '24:00',
            end: '18:00',
            onFail: 'deny',
          },
        ],
      }),
    ).toThrow(/invalid context policy/);
  });
});

describe('combining rules', () => {
  const policy = checkContextPolicy({
    networks: { allow: ['10.0.0.0/8'], onFail: 'step_up' },
    device: { requireTrusted: true, roles: ['prescriber'], onFail: 'deny' },
  });

  it('deny outranks step-up and every failed rule is named', () => {
    const r = evaluateContext(policy, {
      ip: '192.0.2.1',
      trustedDevice: false,
      roles: ['prescriber'],
      now: new Date(),
    });
    expect(r).toEqual({ decision: 'deny', reasons: ['network', 'device'] });
  });

  it('a failed network rule alone asks for a step-up', () => {
    const r = evaluateContext(policy, {
      ip: '192.0.2.1',
      trustedDevice: true,
      roles: ['prescriber'],
      now: new Date(),
    });
    expect(r).toEqual({ decision: 'step_up', reasons: ['network'] });
  });

  it('allows when every rule holds', () => {
    const r = evaluateContext(policy, {
      ip: '10.1.2.3',
      trustedDevice: true,
      roles: ['prescriber'],
      now: new Date(),
    });
    expect(r).toEqual({ decision: 'allow', reasons: [] });
  });

  it('refuses unknown keys and bad CIDR blocks at publication', () => {
    expect(() =>
      checkContextPolicy({ networks: { allow: ['10.0.0.0/8'], onFail: 'deny' }, extra: 1 }),
    ).toThrow();
    expect(() =>
      checkContextPolicy({ networks: { allow: ['10.0.0.0/40'], onFail: 'deny' } }),
    ).toThrow(/prefix/);
  });
});
