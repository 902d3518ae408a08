import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../audit/index.js';
import { evaluateRecord, evaluateWindow, observeRecord } from './evaluate.js';
import { DEFAULT_RULES, resolveRule, type RuleSet } from './rules.js';

function record(seq: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    v: 1,
    seq,
    time: '2026-03-03T15:00:00.000Z',
    tenantId: null,
    actor: { kind: 'user', userId: 'u1', role: null, sessionId: null },
    action: 'patient.read',
    outcome: 'success',
    subjects: [],
    source: { ip: null, userAgent: null },
    requestId: null,
    reason: null,
    details: {},
    prevHash: '00',
    ...over,
  };
}

describe('rule evaluation', () => {
  it('counts distinct items in a sliding window and fires only for fresh records', () => {
    const rules: RuleSet = {
      ...DEFAULT_RULES,
      bulk_lookup: resolveRule('bulk_lookup', true, { maxDistinctPatients: 2, windowMinutes: 10 }),
    };
    const t0 = Date.UTC(2026, 2, 3);
    const at = (min: number): Date => new Date(t0 + min * 60_000);
    const events = [
      { item: 'p1', at: at(0), seq: 1 },
      { item: 'p2', at: at(1), seq: 2 },
      { item: 'p2', at: at(2), seq: 3 },
      { item: 'p3', at: at(10), seq: 4 }, // p1 left the window (10 minutes exactly)
      { item: 'p1', at: at(10.5), seq: 5 },
    ];
    const fired = evaluateWindow('bulk_lookup', rules, null, 'u1', events, new Set([3, 4, 5]));
    expect(fired.map((c) => [c.seq, c.details.distinctPatients])).toEqual([[5, 3]]);
    expect(evaluateWindow('bulk_lookup', rules, null, 'u1', events, new Set([1, 2, 3, 4]))).toEqual(
      [],
    );
  });

  it('observes patients once per record and failed sign-ins per account and source', () => {
    const read = record(7, {
      subjects: [
        { type: 'patient', id: 'a' },
        { type: 'patient', id: 'a' },
        { type: 'prescription', id: 'x' },
      ],
    });
    expect(observeRecord(read, DEFAULT_RULES).map((o) => [o.rule, o.item])).toEqual([
      ['bulk_lookup', 'a'],
    ]);
    const failure = record(8, {
      action: 'auth.login.failure',
      actor: { kind: 'system', userId: null, role: null, sessionId: null },
      source: { ip: '192.0.2.1', userAgent: null },
      details: { accountKey: 'acct:k' },
    });
    expect(observeRecord(failure, DEFAULT_RULES).map((o) => [o.rule, o.subject])).toEqual([
      ['failed_login_account', 'acct:k'],
      ['failed_login_source', '192.0.2.1'],
    ]);
  });

  it('single-record rules carry ids and codes, never the reason text', () => {
    const c = evaluateRecord(
      record(9, { action: 'access.breakglass.open', reason: 'free text' }),
      DEFAULT_RULES,
    );
    expect(c.map((x) => [x.rule, x.dedupKey])).toEqual([['break_glass', 'break_glass:u1:s9']]);
    expect(JSON.stringify(c)).not.toContain('free text');
    expect(evaluateRecord(record(10, { action: 'rx.sign' }), DEFAULT_RULES)).toEqual([]);
  });

  it('a break-glass record whose alert the access domain raised is not alerted twice', () => {
    const raised = record(11, {
      action: 'access.breakglass.open',
      details: { alertRaised: true },
    });
    expect(evaluateRecord(raised, DEFAULT_RULES)).toEqual([]);
    const other = record(12, { action: 'access.breakglass.open', details: { alertRaised: false } });
    expect(evaluateRecord(other, DEFAULT_RULES).map((x) => x.rule)).toEqual(['break_glass']);
  });

  it('a transmission failure the outbox worker already alerted is not alerted twice', () => {
    const raised = record(13, { action: 'rx.transmit.failed', details: { alertRaised: true } });
    expect(evaluateRecord(raised, DEFAULT_RULES)).toEqual([]);
    const other = record(14, { action: 'rx.transmit.failed' });
    expect(evaluateRecord(other, DEFAULT_RULES).map((x) => x.rule)).toEqual([
      'transmission_failure',
    ]);
  });

  it('the switch giving up on a message alerts; a recipient’s rejection and a retried relay do not', () => {
    const rules = (r: AuditRecord): string[] => evaluateRecord(r, DEFAULT_RULES).map((x) => x.rule);
    const system = { kind: 'system' as const, userId: null, role: null, sessionId: null };
    const expired = record(15, {
      action: 'switch.message.rejected',
      outcome: 'failure',
      actor: system,
      details: { answerCode: 'expired', reason: 'deadline_passed' },
    });
    expect(rules(expired)).toEqual(['transmission_failure']);
    const rejected = record(16, {
      action: 'switch.message.rejected',
      outcome: 'failure',
      actor: system,
      details: { answerCode: '900' },
    });
    expect(rules(rejected)).toEqual([]);
    const relayGaveUp = record(17, {
      action: 'switch.answer.relay_failed',
      outcome: 'failure',
      actor: system,
      details: { reason: 'deadline_passed', final: true },
    });
    expect(rules(relayGaveUp)).toEqual(['transmission_failure']);
    const relayRetried = record(18, {
      action: 'switch.answer.relay_failed',
      outcome: 'failure',
      actor: system,
      details: { reason: 'unreachable' },
    });
    expect(rules(relayRetried)).toEqual([]);
  });

  it('an escalated access review alerts once per campaign', () => {
    const c = evaluateRecord(
      record(13, {
        action: 'access.review.escalated',
        subjects: [{ type: 'access_review', id: 'c1' }],
        details: { unreviewed: 3 },
      }),
      DEFAULT_RULES,
    );
    expect(c.map((x) => [x.rule, x.subject, x.severity, x.details.unreviewed])).toEqual([
      ['access_review_overdue', 'c1', 'medium', 3],
    ]);
  });

  it('validates parameters and keeps the defaults for the rest', () => {
    expect(resolveRule('failed_login_account', false, { threshold: 3 })).toEqual({
      enabled: false,
      threshold: 3,
      windowMinutes: 15,
    });
    expect(() => resolveRule('off_hours_access', true, { start: '09:00', end: '09:00' })).toThrow(
      /start equals end/,
    );
    expect(() => resolveRule('bulk_lookup', true, { actions: ['Patient Read'] })).toThrow(
      /actions/,
    );
  });

  it('alerts on every privilege change, and not on a refused one', () => {
    const change = record(20, {
      action: 'user.roles.change',
      subjects: [{ type: 'user', id: 'u9' }],
    });
    expect(evaluateRecord(change, DEFAULT_RULES).map((c) => [c.rule, c.subject])).toEqual([
      ['privilege_change', 'u9'],
    ]);
    const catalog = record(21, {
      action: 'access.roles.approve',
      subjects: [{ type: 'role_catalog', id: 'v1' }],
    });
    expect(evaluateRecord(catalog, DEFAULT_RULES).map((c) => c.rule)).toEqual(['privilege_change']);
    for (const action of ['auth.invitation.create', 'auth.invitation.accept']) {
      const invitation = record(23, {
        action,
        subjects: [{ type: 'invitation', id: 'i1' }],
        details: { roles: 'auditor,prescriber' },
      });
      expect(evaluateRecord(invitation, DEFAULT_RULES).map((c) => [c.rule, c.subject])).toEqual([
        ['privilege_change', 'i1'],
      ]);
    }
    const refused = record(22, { action: 'access.roles.approve', outcome: 'denied' });
    expect(evaluateRecord(refused, DEFAULT_RULES).map((c) => c.rule)).not.toContain(
      'privilege_change',
    );
    const off: RuleSet = {
      ...DEFAULT_RULES,
      privilege_change: resolveRule('privilege_change', false, {}),
    };
    expect(evaluateRecord(change, off)).toEqual([]);
  });
});
