import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../src/core/index.js';
import { freshTenant, ownerClient } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/** 45 CFR 164.312(a)(2)(iv): PHI is encrypted before it reaches the database. */
const ALICE = {
  givenName: 'Philomena',
  familyName: 'Vandersloot',
  birthDate: '1958-02-14',
  mrn: 'MRN-55102',
  phone: '(617) 555-0142',
  address: '12 Quincy Lane, Boston MA 02108',
  identifiers: [{ system: 'urn:ssn', value: '078-05-1120' }],
};
const BOB = {
  givenName: 'Thaddeus',
  familyName: 'Okonkwo-Reyes',
  birthDate: '1990-11-30',
  mrn: 'MRN-99871',
};
const PLAINTEXTS = [
  'Philomena',
  'Vandersloot',
  'VANDERSLOOT',
  'vandersloot',
  '1958-02-14',
  '19580214',
  'MRN-55102',
  '55102',
  '6175550142',
  '555-0142',
  'Quincy',
  '078-05-1120',
  'Thaddeus',
  'Okonkwo',
];

describe('envelope encryption of PHI', () => {
  let p: TestPlatform;
  let a: TenantId;
  let b: TenantId;
  let aliceId: string;
  let bobId: string;

  beforeAll(async () => {
    p = await testPlatform();
    a = await freshTenant(p.db);
    b = await freshTenant(p.db);
    aliceId = await p.db.withTenant(a, (tx) => p.patients.create(tx, a, ALICE));
    bobId = await p.db.withTenant(a, (tx) => p.patients.create(tx, a, BOB));
  });
  afterAll(async () => {
    await p.close();
  });

  it('reads back what was written', async () => {
    const got = await p.db.withTenant(a, (tx) => p.patients.get(tx, a, aliceId));
    expect(got).toMatchObject({ ...ALICE, shredded: false });
  });

  it('stores no PHI plaintext in any column, blind index or key row', async () => {
    const c = await ownerClient();
    await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [a]);
    try {
      // Every column of every row, as text and as raw bytes (bytea printed as hex and escaped).
      const tables = ['patients', 'tenant_keys'];
      for (const t of tables) {
        const { rows } = await c.query<{ row: string }>(
          `SELECT t::text AS row FROM ${t} t WHERE tenant_id = $1`,
          [a],
        );
        expect(rows.length).toBeGreaterThan(0);
        const raw = await c.query<{ row: Buffer }>(
          `SELECT convert_to(t::text, 'UTF8') AS row FROM ${t} t WHERE tenant_id = $1`,
          [a],
        );
        const dump =
          rows.map((r) => r.row).join('\n') +
          raw.rows.map((r) => r.row.toString('latin1')).join('\n');
        for (const pt of PLAINTEXTS) expect(dump.toLowerCase()).not.toContain(pt.toLowerCase());
        // bytea columns decoded to bytes must not hold UTF-8 plaintext either
        const bytes = await c.query<Record<string, Buffer | null>>(
          `SELECT * FROM ${t} WHERE tenant_id = $1`,
          [a],
        );
        for (const row of bytes.rows) {
          for (const v of Object.values(row)) {
            if (Buffer.isBuffer(v))
              for (const pt of PLAINTEXTS) expect(v.includes(Buffer.from(pt))).toBe(false);
          }
        }
      }
      // Index pages hold the same values as the columns: blind indexes are HMACs, never names.
      const idx = await c.query<{ bi_name_dob: string; bi_mrn: string }>(
        'SELECT bi_name_dob, bi_mrn FROM patients WHERE id = $1',
        [aliceId],
      );
      expect(idx.rows[0]?.bi_name_dob).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await c.end();
    }
  });

  it('finds patients by blind index (name + DOB, MRN, phone), tolerant of formatting', async () => {
    const byName = await p.db.withTenant(a, (tx) =>
      p.patients.findByNameAndDob(tx, a, 'vandersloot ', '1958-02-14'),
    );
    expect(byName.map((x) => x.id)).toEqual([aliceId]);
    expect(
      (await p.db.withTenant(a, (tx) => p.patients.findByMrn(tx, a, 'mrn-55102'))).map((x) => x.id),
    ).toEqual([aliceId]);
    expect(
      (await p.db.withTenant(a, (tx) => p.patients.findByPhone(tx, a, '+1 617 555 0142'))).map(
        (x) => x.id,
      ),
    ).toEqual([aliceId]);
    expect(
      await p.db.withTenant(a, (tx) =>
        p.patients.findByNameAndDob(tx, a, 'Vandersloot', '1958-02-15'),
      ),
    ).toEqual([]);
  });

  it('another tenant neither finds nor reads the patient (its index key differs)', async () => {
    expect(await p.db.withTenant(b, (tx) => p.patients.findByMrn(tx, b, 'MRN-55102'))).toEqual([]);
    await expect(p.db.withTenant(b, (tx) => p.patients.get(tx, b, aliceId))).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('swapping two rows’ ciphertexts makes both reads fail with an integrity error', async () => {
    const c = await ownerClient();
    try {
      await c.query('BEGIN');
      await c.query("SELECT set_config('scrip.tenant_id', $1, true)", [a]);
      await c.query(
        `UPDATE patients p SET given_name = q.given_name FROM patients q WHERE p.id = $1 AND q.id = $2`,
        [aliceId, bobId],
      );
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    const err = await p.db
      .withTenant(a, (tx) => p.patients.get(tx, a, aliceId))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'integrity_error', detail: 'patients.given_name' });
    expect(JSON.stringify(err)).not.toContain('Thaddeus');
  });

  it('ciphertext copied into another tenant fails to decrypt', async () => {
    const carolId = await p.db.withTenant(b, (tx) =>
      p.patients.create(tx, b, { givenName: 'Carol', familyName: 'Zed', birthDate: '2001-01-01' }),
    );
    const c = await ownerClient();
    await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [a]);
    try {
      const src = await c.query<{ family_name: Buffer }>(
        'SELECT family_name FROM patients WHERE id = $1',
        [bobId],
      );
      await c.query('BEGIN');
      await c.query("SELECT set_config('scrip.tenant_id', $1, true)", [b]);
      await c.query('UPDATE patients SET family_name = $2 WHERE id = $1', [
        carolId,
        src.rows[0]?.family_name,
      ]);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    await expect(p.db.withTenant(b, (tx) => p.patients.get(tx, b, carolId))).rejects.toMatchObject({
      code: 'integrity_error',
    });
  });

  it('caches unwrapped keys only in memory and reuses the tenant’s key across writes', async () => {
    const versions = await p.db.withTenant(
      a,
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM tenant_keys WHERE purpose = 'field'",
          )
        ).rows[0]?.n,
    );
    expect(versions).toBe(1);
  });
});
