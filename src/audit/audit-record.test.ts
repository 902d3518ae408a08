import { describe, expect, it } from 'vitest';
import { asTenantId } from '../core/index.js';
import {
  AUDIT_LIMITS,
  auditRecordBytes,
  buildAuditRecord,
  bytesFromColumns,
  GENESIS_HASH,
  validateAuditEvent,
  type AuditEvent,
  type StoredAuditRow,
} from './audit-record.js';

const base: AuditEvent = {
  tenantId: asTenantId('3f1c6a52-1b2c-4d5e-8f90-123456789abc'),
  actor: { kind: 'user', userId: 'u-1', role: 'prescriber' },
  action: 'prescription.sign',
  outcome: 'success',
  subjects: [{ type: 'prescription', id: 'rx-1' }],
  source: { ip: '2001:db8::1', userAgent: 'Mozilla/5.0' },
  details: { schedule: 2, epcs: true, note: '' },
};

describe('audit record', () => {
  it('accepts a well-formed event and rejects misuse with TypeError', () => {
    expect(() => {
      validateAuditEvent(base);
    }).not.toThrow();
    const bad: [string, unknown][] = [
      ['action not dotted', { ...base, action: 'sign' }],
      ['action upper-case', { ...base, action: 'Rx.sign' }],
      ['outcome', { ...base, outcome: 'ok' }],
      ['actor kind', { ...base, actor: { kind: 'robot' } }],
      ['user without id', { ...base, actor: { kind: 'user' } }],
      ['tenant', { ...base, tenantId: 'nope' }],
      ['ip', { ...base, source: { ip: '999.1.1.1' } }],
      [
        'user agent size',
        { ...base, source: { userAgent: 'x'.repeat(AUDIT_LIMITS.userAgent + 1) } },
      ],
      ['control char', { ...base, reason: 'a\u0000b' }],
      ['subject type', { ...base, subjects: [{ type: 'Patient Name', id: 'x' }] }],
      ['too many subjects', { ...base, subjects: Array(51).fill({ type: 'patient', id: 'p' }) }],
      ['details value', { ...base, details: { nested: { a: 1 } } }],
      ['details number', { ...base, details: { n: Number.NaN } }],
      ['details key', { ...base, details: { 'bad key': 1 } }],
    ];
    for (const [why, event] of bad) {
      expect(() => {
        validateAuditEvent(event as AuditEvent);
      }, why).toThrow(TypeError);
    }
  });

  it('builds a fully normalised record whose JCS bytes the columns reproduce', () => {
    const record = buildAuditRecord(
      { tenantId: null, actor: { kind: 'system' }, action: 'key.kek.rotate', outcome: 'denied' },
      0,
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
      GENESIS_HASH,
    );
    const bytes = auditRecordBytes(record);
    expect(bytes.toString('utf8')).toBe(
      '{"action":"key.kek.rotate","actor":{"kind":"system","role":null,"sessionId":null,"userId":null},' +
        '"details":{},"outcome":"denied","prevHash":"' +
        '0'.repeat(64) +
        '","reason":null,"requestId":null,"seq":0,"source":{"ip":null,"userAgent":null},' +
        '"subjects":[],"tenantId":null,"time":"2026-01-02T03:04:05.006Z","v":1}',
    );
    const full = buildAuditRecord(base, 41, new Date(0), Buffer.alloc(32, 0xab));
    const row: StoredAuditRow = {
      seq: 41,
      time: new Date(0),
      dbTime: new Date(0),
      tenantId: full.tenantId,
      actorKind: full.actor.kind,
      actorUserId: full.actor.userId,
      actorRole: full.actor.role,
      actorSessionId: full.actor.sessionId,
      action: full.action,
      outcome: full.outcome,
      subjects: JSON.parse(JSON.stringify(full.subjects)),
      sourceIp: full.source.ip,
      userAgent: full.source.userAgent,
      requestId: full.requestId,
      reason: full.reason,
      details: JSON.parse(JSON.stringify(full.details)),
      prevHash: Buffer.alloc(32, 0xab),
      record: auditRecordBytes(full).toString('utf8'),
      leafHash: Buffer.alloc(32),
      chainHash: Buffer.alloc(32),
    };
    expect(bytesFromColumns(row).equals(auditRecordBytes(full))).toBe(true);
    expect(bytesFromColumns({ ...row, reason: 'x' }).equals(auditRecordBytes(full))).toBe(false);
  });

  it('rejects a record above the size limit', () => {
    const details: Record<string, string> = {};
    for (let i = 0; i < 32; i++) details[`k${i}`] = 'x'.repeat(1000);
    const event = { ...base, details };
    validateAuditEvent(event);
    expect(() => auditRecordBytes(buildAuditRecord(event, 0, new Date(), GENESIS_HASH))).toThrow(
      /exceeds/,
    );
  });
});
