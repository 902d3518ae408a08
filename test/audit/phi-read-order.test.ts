/**
 * Issue 6 point 2: a read of PHI is logged before the data leaves the server. With the audit
 * append refused by the database (its EXECUTE grant revoked on a scratch database of this test's
 * own), every patient read, search, list and FHIR read fails and no PHI is in any answer; with
 * the grant back, the same calls answer and each one is in the log.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { patientRoutes } from '../../src/http/routes/patients.routes.js';
import { fhirRoutes } from '../../src/http/routes/fhir.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { ownerUrlOf } from '../identity/harness.js';
import { testPlatform } from '../platform.js';
import {
  PATIENT,
  call,
  seededPatient,
  user,
  type PatientsHarness,
  type TestUser,
} from '../patients/harness.js';

describe('PHI reads are logged before the data leaves', () => {
  let h: PatientsHarness;
  let t: TenantId;
  let prescriber: TestUser;
  let patientId: string;
  let owner: pg.Client;

  const grant = (on: boolean): Promise<unknown> =>
    owner.query(
      `${on ? 'GRANT' : 'REVOKE'} EXECUTE ON FUNCTION audit_append(text) ${on ? 'TO' : 'FROM'} scrip_app`,
    );
  const logged = async (): Promise<string[]> =>
    h.p.db.withTenant(t, async (tx) => {
      const { rows } = await tx.query<{ action: string }>(
        "SELECT action FROM audit_log WHERE action LIKE 'patient.%' ORDER BY seq",
      );
      return rows.map((r) => r.action);
    });
  const reads = (): Promise<{ statusCode: number; body: string }[]> =>
    Promise.all([
      call(h, 'GET', `/api/v1/patients/${patientId}`, prescriber),
      call(h, 'POST', '/api/v1/patients/search', prescriber, {
        familyName: PATIENT.familyName,
        birthDate: PATIENT.birthDate,
      }),
      call(h, 'GET', '/api/v1/patients', prescriber),
      call(h, 'GET', `/fhir/R4/Patient/${patientId}`, prescriber),
    ]);

  beforeAll(async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 3, 15, 0, 0));
    const p = await testPlatform(clock, { isolated: true });
    const { app, logs } = await buildTestApp(p.db, {
      routes: [...patientRoutes(p.patientServices), ...fhirRoutes(p.patientServices, p.db)],
      authenticator: sessionAuthenticator(p.identity.sessions),
    });
    h = {
      p,
      app,
      logs,
      clock,
      close: async () => {
        await app.close();
        await p.close();
      },
    };
    t = await freshTenant(p.db);
    prescriber = await user(h, t, 'prescriber');
    patientId = await seededPatient(h, prescriber);
    owner = new pg.Client({
      connectionString: ownerUrlOf({ p: h.p } as Parameters<typeof ownerUrlOf>[0]),
    });
    await owner.connect();
    await owner.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
  }, 180_000);
  afterAll(async () => {
    await owner.end();
    await h.close();
  });

  it('without the audit append no read answers, no PHI leaves, and no change commits', async () => {
    const before = await logged();
    const patients = (): Promise<number> =>
      h.p.db.withTenant(t, async (tx) => {
        const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM patients');
        return rows[0]?.n ?? -1;
      });
    const count = await patients();
    await grant(false);
    try {
      const answers = await reads();
      for (const res of answers) {
        expect(res.statusCode, res.body).toBe(500);
        for (const phi of [PATIENT.familyName, PATIENT.birthDate, PATIENT.phone, 'Penicillin']) {
          expect(res.body).not.toContain(phi);
        }
      }
      // Point 2, same transaction: a change whose audit record cannot be written does not happen.
      const create = await call(h, 'POST', '/api/v1/patients', prescriber, {
        ...PATIENT,
        givenName: 'Unrecorded',
        mrn: 'MRN-UNRECORDED',
        confirmNotDuplicate: true,
      });
      expect(create.statusCode, create.body).toBe(500);
    } finally {
      await grant(true);
    }
    expect(await logged()).toEqual(before);
    expect(await patients()).toBe(count);
  });

  it('with the append back, each read answers and is in the log', async () => {
    const before = await logged();
    const answers = await reads();
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    expect(answers[0]!.body).toContain(PATIENT.familyName);
    const added = (await logged()).slice(before.length).sort();
    expect(added).toEqual(['patient.list', 'patient.read', 'patient.read', 'patient.search']);
  });
});
