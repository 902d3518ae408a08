import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import { appendAudit } from '../../src/audit/index.js';
import { searchAudit } from '../../src/audit/audit-search.js';
import { toFhirAuditEvent, toSyslogLine } from '../../src/audit/audit-export-formats.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { assertValidFhir } from '../fhir.js';

describe('audit search and export formats', () => {
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
  let db: Database;
  let a: TenantId;
  let b: TenantId;
  const patient = randomUUID();

  beforeAll(async () => {
    db = await openTestDatabase();
    a = await freshTenant(db);
    b = await freshTenant(db);
    for (let i = 0; i < 5; i += 1) {
      clock.advance(60_000);
      await db.withTenant(a, (tx) =>
        appendAudit(
          tx,
          {
            tenantId: a,
            actor: {
              kind: 'user',
              userId: i % 2 === 0 ? 'dr-ames' : 'nurse-bo',
              role: 'prescriber',
              sessionId: 's1',
            },
            action: i === 4 ? 'auth.login.failure' : 'patient.read',
            outcome: i === 4 ? 'failure' : 'success',
            subjects: i === 4 ? [] : [{ type: 'patient', id: patient }],
            source: { ip: '10.1.2.3', userAgent: 'test' },
            requestId: `req-${String(i)}`,
          },
          clock,
        ),
      );
    }
    await db.withTenant(b, (tx) =>
      appendAudit(
        tx,
        {
          tenantId: b,
          actor: { kind: 'user', userId: 'dr-ames' },
          action: 'patient.read',
          outcome: 'success',
          subjects: [{ type: 'patient', id: patient }],
        },
        clock,
      ),
    );
  });
  afterAll(async () => {
    await db.close();
  });

  const me = { kind: 'user' as const, userId: 'auditor-1', role: 'compliance_officer' };

  it('filters by actor, patient, action prefix, outcome and time; only within the tenant', async () => {
    const byActor = await searchAudit(db, a, me, { actorUserId: 'dr-ames' }, clock);
    expect(byActor.records.map((r) => r.requestId)).toEqual(['req-4', 'req-2', 'req-0']);
    const byPatient = await searchAudit(
      db,
      a,
      me,
      { patientId: patient, action: 'patient.read' },
      clock,
    );
    expect(byPatient.records).toHaveLength(4);
    expect(byPatient.records.every((r) => r.tenantId === a)).toBe(true);
    const failures = await searchAudit(db, a, me, { action: 'auth.', outcome: 'failure' }, clock);
    expect(failures.records.map((r) => r.action)).toEqual(['auth.login.failure']);
    const window = await searchAudit(
      db,
      a,
      me,
      {
        from: new Date('2026-11-02T10:01:30Z'),
        to: new Date('2026-11-02T10:03:30Z'),
        action: 'patient.read',
      },
      clock,
    );
    expect(window.records.map((r) => r.requestId)).toEqual(['req-2', 'req-1']);
  });

  it('paginates by sequence and audits every search', async () => {
    const first = await searchAudit(db, a, me, { action: 'patient.read', limit: 2 }, clock);
    expect(first.records).toHaveLength(2);
    expect(first.nextBefore).not.toBeNull();
    const second = await searchAudit(
      db,
      a,
      me,
      { action: 'patient.read', limit: 2, before: first.nextBefore ?? 0 },
      clock,
    );
    expect(second.records.map((r) => r.seq).every((s) => s < (first.nextBefore ?? 0))).toBe(true);
    const searches = await searchAudit(
      db,
      a,
      me,
      { action: 'audit.search', actorUserId: 'auditor-1' },
      clock,
    );
    expect(searches.records.length).toBeGreaterThanOrEqual(6);
    expect(searches.records[0]?.details).toMatchObject({
      action: 'audit.search',
      actorUserId: 'auditor-1',
    });
  });

  it('maps records to FHIR R4 AuditEvent and RFC 5424 syslog without PHI', async () => {
    const [rec] = (await searchAudit(db, a, me, { action: 'patient.read', limit: 1 }, clock))
      .records;
    if (rec === undefined) throw new Error('no record');
    const fhir = toFhirAuditEvent(rec, 'scrip-test');
    expect(fhir).toMatchObject({
      resourceType: 'AuditEvent',
      action: 'R',
      outcome: '0',
      recorded: rec.time,
      type: { code: '110110' },
      agent: [
        {
          requestor: true,
          who: { identifier: { value: rec.actor.userId } },
          network: { address: '10.1.2.3', type: '2' },
        },
      ],
      entity: expect.arrayContaining([
        { what: { reference: `Patient/${patient}` }, type: expect.anything() as unknown },
      ]) as unknown,
    });
    expect(() => {
      assertValidFhir(fhir);
    }).not.toThrow();
    const denied = toFhirAuditEvent(
      {
        ...rec,
        outcome: 'denied',
        reason: 'emergency',
        subjects: [],
        requestId: null,
        source: { ip: null, userAgent: null },
      },
      'scrip-test',
    );
    expect(() => {
      assertValidFhir(denied);
    }).not.toThrow();
    expect(() => {
      assertValidFhir({ ...fhir, agent: undefined, recorded: 'yesterday' });
    }).toThrow();
    const line = toSyslogLine(rec, 'scrip host');
    expect(line).toMatch(
      /^<85>1 2026-11-02T10:\d\d:00\.000Z scrip_host scrip - patient\.read \[scrip@32473 seq="\d+" tenant="[0-9a-f-]+" action="patient\.read" outcome="success" actor="nurse-bo"/,
    );
    const tricky = toSyslogLine(
      { ...rec, actor: { ...rec.actor, userId: 'a"b]c\\d' }, outcome: 'denied' },
      'h',
    );
    expect(tricky).toContain('actor="a\\"b\\]c\\\\d"');
    expect(tricky.startsWith('<84>1 ')).toBe(true);
  });
});
