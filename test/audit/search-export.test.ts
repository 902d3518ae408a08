import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { Database, type Tx } from '../../src/db/index.js';
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
    // A search runs before its own record is appended (not under the append lock): the newest
    // record it finds is the previous search, `second`.
    expect(searches.records[0]?.details).toMatchObject({
      action: 'patient.read',
      actorUserId: null,
    });
  });

  it('searches without holding the global append lock, records the search before answering, and records a failed search', async () => {
    /** Sees the search statement: how many advisory locks its transaction holds, or fails it. */
    class SpyDatabase extends Database {
      locksDuringSearch: number[] = [];
      fail = false;
      override async withTenant<T>(tenantId: TenantId, fn: (tx: Tx) => Promise<T>): Promise<T> {
        return super.withTenant(tenantId, (tx) =>
          fn({
            query: async (sql, params) => {
              if (sql.trimStart().startsWith('SELECT record FROM audit_log')) {
                const { rows } = await tx.query<{ n: number }>(
                  `SELECT count(*)::int AS n FROM pg_locks
                    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`,
                );
                this.locksDuringSearch.push(rows[0]?.n ?? -1);
                if (this.fail) throw new Error('search failed');
              }
              return tx.query(sql, params);
            },
          }),
        );
      }
    }
    const spy = new SpyDatabase(db.pool);
    const c = await freshTenant(db);
    const page = await searchAudit(spy, c, me, { patientId: patient }, clock, {
      requestId: 'r-ok',
    });
    expect(page.records).toEqual([]);
    spy.fail = true;
    await expect(
      searchAudit(spy, c, me, { action: 'auth.' }, clock, { requestId: 'r-bad' }),
    ).rejects.toThrow('search failed');
    expect(spy.locksDuringSearch).toEqual([0, 0]);
    const trail = await db.withTenant(
      c,
      async (tx) =>
        (
          await tx.query<{ outcome: string; request_id: string; subjects: unknown }>(
            `SELECT outcome, request_id, subjects FROM audit_log WHERE action = 'audit.search' ORDER BY seq`,
          )
        ).rows,
    );
    expect(trail).toEqual([
      { outcome: 'success', request_id: 'r-ok', subjects: [{ type: 'patient', id: patient }] },
      { outcome: 'failure', request_id: 'r-bad', subjects: [] },
    ]);
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
