import { describe, expect, it } from 'vitest';
import {
  completeFromContext,
  currentAuditContext,
  runWithAuditContext,
  type AuditRequestContext,
} from './audit-context.js';
import type { AuditEvent } from './audit-record.js';
import { asTenantId } from '../core/index.js';

const T = asTenantId('00000000-0000-4000-8000-000000000001');
const OTHER = asTenantId('00000000-0000-4000-8000-000000000002');

const ctx: AuditRequestContext = {
  ip: '192.0.2.7',
  userAgent: 'Browser/1.0\u0007 (x)',
  requestId: 'req-1',
  userId: 'u-1',
  sessionId: 's-1',
  tenantId: T,
  roles: ['prescriber', 'auditor'],
};

const event = (extra: Partial<AuditEvent> = {}): AuditEvent => ({
  tenantId: T,
  actor: { kind: 'user', userId: 'u-1' },
  action: 'patient.read',
  outcome: 'success',
  ...extra,
});

describe('audit request context', () => {
  it('fills empty request fields, role and session of the signed-in user', () => {
    expect(completeFromContext(event(), ctx)).toEqual({
      ...event(),
      actor: { kind: 'user', userId: 'u-1', role: 'auditor,prescriber', sessionId: 's-1' },
      source: { ip: '192.0.2.7', userAgent: 'Browser/1.0 (x)' },
      requestId: 'req-1',
    });
  });

  it('never overrides what the event carries', () => {
    const given = event({
      actor: { kind: 'user', userId: 'u-1', role: 'prescriber', sessionId: 's-0' },
      source: { ip: '198.51.100.1', userAgent: 'Given' },
      requestId: 'req-0',
    });
    expect(completeFromContext(given, ctx)).toEqual(given);
  });

  it('another actor gets source and request id but not the session or role', () => {
    const sys = completeFromContext(event({ actor: { kind: 'system' } }), ctx);
    expect(sys.actor).toEqual({ kind: 'system' });
    expect(sys.requestId).toBe('req-1');
    const other = completeFromContext(event({ actor: { kind: 'user', userId: 'u-2' } }), ctx);
    expect(other.actor).toEqual({ kind: 'user', userId: 'u-2' });
  });

  it('roles belong to the session tenant; a record of another tenant gets the session only', () => {
    const r = completeFromContext(event({ tenantId: OTHER }), ctx);
    expect(r.actor).toEqual({ kind: 'user', userId: 'u-1', sessionId: 's-1' });
  });

  it('drops an unusable address or user agent, and changes nothing without a context', () => {
    const r = completeFromContext(event(), { ...ctx, ip: 'not-an-ip', userAgent: '\u0001' });
    expect(r.source).toEqual({});
    expect(completeFromContext(event(), undefined)).toEqual(event());
  });

  it('the context follows awaits inside the run, and is absent outside it', async () => {
    expect(currentAuditContext()).toBeUndefined();
    const seen = await runWithAuditContext({ requestId: 'r' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const c = currentAuditContext();
      if (c !== undefined) c.userId = 'late';
      return currentAuditContext();
    });
    expect(seen).toEqual({ requestId: 'r', userId: 'late' });
    expect(currentAuditContext()).toBeUndefined();
  });
});
