import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import {
  clinic,
  draftBody,
  DRUGS,
  patientWithTeam,
  epcsPrescriber,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

const DOC = practitioner('Lindqvist', '155555555', '246810');
const APPROVER = practitioner('Quarles', '166666666', '135791');
/** More patients than one audit record may name (AUDIT_LIMITS.subjects = 50). */
const PATIENTS = 53;

interface LogRecord {
  subjects: { type: string; id: string }[];
  details: Record<string, unknown>;
}

describe('controlled-substance logs over more than 50 patients (21 CFR 1311.120(b)(27))', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  const patients: string[] = [];

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC, APPROVER]);
    ({ doc: doc } = await epcsPrescriber(
      h,
      c,
      { pr: DOC, email: 'lindqvist@example.test' },
      { pr: APPROVER, email: 'quarles@example.test' },
    ));
    for (let i = 0; i < PATIENTS; i++) {
      const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
      const d = await post(
        h.app,
        '/api/v1/prescriptions',
        doc.browser,
        draftBody(patientId, DRUGS.oxycodone),
      );
      const id = d.json<{ id: string }>().id;
      const ready = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
      expect(ready.statusCode, ready.body).toBe(200);
      expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
      const signed = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
        prescriptionIds: [id],
      });
      expect(signed.statusCode, signed.body).toBe(200);
      patients.push(patientId);
    }
  }, 300_000);
  afterAll(async () => {
    await h.close();
  });

  async function lastSeq(): Promise<number> {
    return h.p.db.withTenant(c.tenant, async (tx) =>
      Number(
        (await tx.query<{ s: string | null }>('SELECT max(seq) AS s FROM audit_log')).rows[0]?.s ??
          0,
      ),
    );
  }

  async function records(action: string, since: number): Promise<LogRecord[]> {
    return h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<LogRecord>(
            'SELECT subjects, details FROM audit_log WHERE action = $1 AND seq > $2 ORDER BY seq',
            [action, since],
          )
        ).rows,
    );
  }

  /** Two records, 50 + 3 patients, together naming every patient once. */
  function expectSplit(rows: readonly LogRecord[], view: string): void {
    expect(rows.map((r) => r.subjects.length)).toEqual([50, PATIENTS - 50]);
    expect(rows.map((r) => r.details)).toEqual([
      expect.objectContaining({ view, entries: PATIENTS, part: 1, parts: 2 }),
      expect.objectContaining({ view, entries: PATIENTS, part: 2, parts: 2 }),
    ]);
    const named = rows.flatMap((r) => r.subjects.map((s) => `${s.type}:${s.id}`));
    expect(named.sort()).toEqual(patients.map((id) => `patient:${id}`).sort());
  }

  it('the on-demand report answers and is audited in records of at most 50 patients', async () => {
    const since = await lastSeq();
    const report = await get(
      h.app,
      '/api/v1/prescribers/me/controlled-report?from=2026-03-01&to=2026-04-01',
      doc.browser,
    );
    expect(report.statusCode, report.body).toBe(200);
    expect(report.json<{ entries: unknown[] }>().entries).toHaveLength(PATIENTS);
    expectSplit(await records('prescription.log.read', since), 'report');
  });

  it('the monthly log is generated (one record) and its read is audited in records of at most 50 patients', async () => {
    h.clock.set(new Date(Date.UTC(2026, 3, 2, 8, 0, 0)));
    let since = await lastSeq();
    expect(await h.rx.logs.generateMonthlyLogs({ tenantId: c.tenant })).toBe(1);
    expect(await records('prescription.log.generated', since)).toEqual([
      {
        subjects: [{ type: 'user', id: doc.userId }],
        details: { month: '2026-03', entries: PATIENTS },
      },
    ]);
    since = await lastSeq();
    const actor = {
      tenantId: c.tenant,
      userId: doc.userId,
      sessionId: '00000000-0000-0000-0000-000000000000',
      permissions: new Set<string>(),
      roles: ['prescriber'],
    };
    const march = await h.rx.logs.monthly(actor, '2026-03', 'patient', {});
    expect(march).toHaveLength(PATIENTS);
    expectSplit(await records('prescription.log.read', since), 'monthly');
  });
});
