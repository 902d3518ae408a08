/**
 * The incident narrative at rest (incident-narrative.ts, migration 0029): what people type about
 * an incident is sealed under the tenant's data key, reads back through the services, survives a
 * data-key rotation, and the tables accept no other update.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { BreachAssessmentInput, ProgramActor } from '../../src/compliance/program.js';
import { defaultMigrationsDir, ensureRoles, migrate } from '../../src/db/index.js';
import { freshTenant, ownerClient, scratchDatabase, testTarget } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { member } from './helpers.js';

const PATIENT = 'Jane Q. Patient, DOB 1960-01-01';

const SEALED_COLUMNS = [
  ['compliance_incident_versions', ['summary', 'lessons_learned']],
  ['compliance_incident_timeline', ['text']],
  ['compliance_breach_assessments', ['rationale', 'notice']],
] as const;

function assessment(): BreachAssessmentInput {
  const f = (rating: 'low' | 'moderate' | 'high') => ({ rating, rationale: `rated ${rating}` });
  return {
    factors: {
      natureAndExtent: f('high'),
      unauthorizedPerson: f('moderate'),
      acquiredOrViewed: f('moderate'),
      mitigation: f('low'),
    },
    decision: 'breach',
    exception: null,
    rationale: `The prescription of ${PATIENT} went to the wrong pharmacy.`,
    role: 'covered_entity',
    discoveredOn: '2026-03-10',
    occurredFrom: null,
    occurredTo: null,
    affectedByJurisdiction: { CA: 1 },
    phiTypes: ['full_name'],
    notice: {
      whatHappened: `A prescription for ${PATIENT} was sent to the wrong pharmacy.`,
      stepsIndividualsShouldTake: 'Review your prescriptions.',
      whatWeAreDoing: 'We retrained staff.',
      contact: { tollFreeNumber: '1-800-555-0100', email: 'privacy@clinic.example' },
    },
  };
}

describe('incident narrative sealed at rest', () => {
  let p: TestPlatform;
  let tenant: TenantId;
  let officer: ProgramActor;

  beforeAll(async () => {
    p = await testPlatform(new ManualClock(Date.UTC(2026, 2, 12, 9)));
    tenant = await freshTenant(p.db, 'Sealed clinic');
    officer = await member(p.db, tenant);
  });
  afterAll(async () => {
    await p.close();
  });

  /** Every sealed column of the tenant's rows, as the owner reads them raw. */
  async function raw(): Promise<{ table: string; dek: number; bytes: Buffer | null }[]> {
    const c = await ownerClient();
    try {
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [tenant]);
      const out: { table: string; dek: number; bytes: Buffer | null }[] = [];
      for (const [table, columns] of SEALED_COLUMNS) {
        for (const col of columns) {
          const { rows } = await c.query<{ b: Buffer | null; dek: number }>(
            `SELECT ${col} AS b, dek_version AS dek FROM ${table} WHERE tenant_id = $1`,
            [tenant],
          );
          out.push(...rows.map((r) => ({ table, dek: r.dek, bytes: r.b })));
        }
      }
      return out;
    } finally {
      await c.end();
    }
  }

  it('stores no plaintext, reads back through the services, and survives a data-key rotation', async () => {
    const program = p.complianceProgram;
    const inc = await program.incidents.create(officer, {
      title: 'Misdirected prescription',
      summary: `Sent to the wrong pharmacy for ${PATIENT}`,
      category: 'misdirected_prescription',
      severity: 'high',
      discoveredAt: '2026-03-10T08:00:00.000Z',
      roles: {},
    });
    await program.incidents.addNote(officer, inc.id, `Called the pharmacy about ${PATIENT}`);
    await program.breach.assess(officer, inc.id, 0, assessment());
    await program.incidents.update(
      officer,
      inc.id,
      1,
      { status: 'closed', lessonsLearned: `Double-check the pharmacy for ${PATIENT}` },
      'closing',
    );

    const stored = await raw();
    expect(stored.filter((r) => r.bytes !== null).length).toBeGreaterThanOrEqual(6);
    for (const r of stored) {
      expect(r.bytes?.toString('latin1') ?? '', r.table).not.toContain('Jane Q. Patient');
    }

    const read = async () => {
      const detail = await program.incidents.get(tenant, inc.id);
      const breach = await program.breach.view(tenant, inc.id);
      return {
        summary: detail.history[0]?.summary,
        lessons: detail.current.lessonsLearned,
        note: detail.timeline.find((e) => e.kind === 'note')?.text,
        rationale: breach.assessment?.rationale,
        notice: breach.assessment?.notice?.whatHappened,
      };
    };
    const expected = {
      summary: `Sent to the wrong pharmacy for ${PATIENT}`,
      lessons: `Double-check the pharmacy for ${PATIENT}`,
      note: `Called the pharmacy about ${PATIENT}`,
      rationale: `The prescription of ${PATIENT} went to the wrong pharmacy.`,
      notice: `A prescription for ${PATIENT} was sent to the wrong pharmacy.`,
    };
    expect(await read()).toEqual(expected);

    // Rotation re-encrypts every sealed row under the new key (the guard lets exactly that pass).
    const before = new Set(stored.map((r) => r.dek));
    const { job } = await p.reencryptor.start(tenant);
    const done = await p.reencryptor.run(tenant);
    expect(done.status).toBe('done');
    const after = await raw();
    expect(before.has(job.toVersion)).toBe(false);
    expect(new Set(after.map((r) => r.dek))).toEqual(new Set([job.toVersion]));
    expect(await read()).toEqual(expected);
  });

  it('refuses any other update, even by the table owner, and TRUNCATE', async () => {
    const c = await ownerClient();
    try {
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [tenant]);
      await expect(
        c.query("UPDATE compliance_incident_versions SET title = 'changed' WHERE tenant_id = $1", [
          tenant,
        ]),
      ).rejects.toThrow(/append-only/);
      await expect(
        c.query('DELETE FROM compliance_incident_timeline WHERE tenant_id = $1', [tenant]),
      ).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE compliance_breach_notices')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE compliance_risk_versions')).rejects.toThrow(/append-only/);
    } finally {
      await c.end();
    }
    // The application role may not touch anything but the sealed columns and their key version.
    await expect(
      p.db.withTenant(tenant, (tx) =>
        tx.query("UPDATE compliance_breach_assessments SET decision = 'not_breach'"),
      ),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('migration 0029 refuses a database whose incident tables already hold plaintext rows', async () => {
    const scratch = await scratchDatabase();
    const before = mkdtempSync(join(tmpdir(), 'scrip-migrations-'));
    const c = await ownerClient(scratch.ownerUrl);
    try {
      for (const f of readdirSync(defaultMigrationsDir())) {
        if (f.endsWith('.sql') && f < '0029')
          copyFileSync(join(defaultMigrationsDir(), f), join(before, f));
      }
      await ensureRoles(c, testTarget().appUser, testTarget().appPassword);
      await migrate(c, before);
      const t = randomUUID();
      const u = randomUUID();
      const i = randomUUID();
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
      await c.query("INSERT INTO tenants (id, name) VALUES ($1, 'Old clinic')", [t]);
      await c.query(
        `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
         VALUES ($1, $2, 'old@example.test', 'Old', '$argon2id$v=19$m=19456,t=2,p=1$placeholder', now())`,
        [u, t],
      );
      await c.query(
        `INSERT INTO compliance_incidents (id, tenant_id, category, playbook_version, checklist,
           created_by, created_at) VALUES ($1, $2, 'other', 0, '[]', $3, now())`,
        [i, t, u],
      );
      await c.query(
        `INSERT INTO compliance_incident_timeline (id, tenant_id, incident_id, entry, at, kind,
           text, details) VALUES ($1, $2, $3, 1, now(), 'note', $4, '{}')`,
        [randomUUID(), t, i, `About ${PATIENT}`],
      );
      await expect(migrate(c)).rejects.toThrow(
        /0029 seals the incident narrative, but compliance_incident_timeline already holds 1 plaintext row/,
      );
      // Nothing changed: the column is still the old text column, the row still there.
      const { rows } = await c.query<{ data_type: string }>(
        `SELECT data_type FROM information_schema.columns
          WHERE table_name = 'compliance_incident_timeline' AND column_name = 'text'`,
      );
      expect(rows[0]?.data_type).toBe('text');
    } finally {
      await c.end();
      rmSync(before, { recursive: true, force: true });
      await scratch.drop();
    }
  });
});
