import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { BAA_DOCUMENTS, type Compliance } from '../../src/compliance/index.js';
import { ENCRYPTED_TABLES } from '../../src/platform.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { ACTOR, baaTerms, complianceOf } from './helpers.js';

describe('the signed BAA document', () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  let p: TestPlatform;
  let c: Compliance;

  beforeAll(async () => {
    p = await testPlatform(clock);
    c = complianceOf(p);
  });
  afterAll(async () => {
    await p.close();
  });

  it('is encrypted at rest with the tenant data key, its SHA-256 recorded and checked on read', async () => {
    expect(ENCRYPTED_TABLES).toContain(BAA_DOCUMENTS);
    const tenant = await freshTenant(p.db);
    const vendor = await c.vendors.create(
      tenant,
      { name: 'Acme Rx Network', services: '', contact: '', riskRating: 'high', phiAccess: true },
      ACTOR,
    );
    const plaintext = Buffer.from(
      '%PDF-1.7 CONFIDENTIAL-BAA-TEXT-4711: the business associate shall report breaches within 10 days',
    );
    const digest = createHash('sha256').update(plaintext).digest('hex');
    const baa = await c.baas.create(
      tenant,
      baaTerms(vendor.id, '2026-01-01', '2027-01-01'),
      ACTOR,
      {
        bytes: plaintext,
        mediaType: 'application/pdf',
      },
    );
    expect(baa.documentSha256).toBe(digest);

    const raw = await p.db.withTenant(
      tenant,
      async (tx) =>
        (
          await tx.query<{
            id: string;
            row: string;
            content: Buffer;
            sha256: string;
            dek_version: number;
          }>(
            `SELECT id, row_to_json(d)::text AS row, content, sha256, dek_version
             FROM compliance_baa_documents d WHERE baa_id = $1`,
            [baa.id],
          )
        ).rows,
    );
    expect(raw).toHaveLength(1);
    const row = raw[0]!;
    expect(row.sha256).toBe(digest);
    for (const needle of [
      'CONFIDENTIAL-BAA-TEXT-4711',
      plaintext.toString('base64').slice(0, 40),
      plaintext.toString('hex').slice(0, 40),
      Buffer.from('CONFIDENTIAL-BAA-TEXT-4711').toString('hex'),
    ]) {
      expect(row.row.includes(needle), needle).toBe(false);
      expect(row.content.includes(Buffer.from(needle)), needle).toBe(false);
    }
    expect(row.content[0]).toBe(0x01); // field-cipher format v1 (AES-256-GCM)

    const doc = await c.baas.readDocument(tenant, baa.id, ACTOR);
    expect(doc.bytes.equals(plaintext)).toBe(true);
    expect(doc).toMatchObject({
      sha256: digest,
      mediaType: 'application/pdf',
      byteLength: plaintext.length,
    });
    const audit = await p.db.withTenant(tenant, async (tx) =>
      (await tx.query<{ action: string }>('SELECT action FROM audit_log ORDER BY seq')).rows.map(
        (r) => r.action,
      ),
    );
    expect(audit).toContain('compliance.baa.document_read');

    // A data-key rotation re-encrypts it like any PHI column; it still reads back.
    await p.reencryptor.start(tenant);
    await p.reencryptor.run(tenant);
    const rotated = await p.db.withTenant(
      tenant,
      async (tx) =>
        (
          await tx.query<{ dek_version: number; content: Buffer }>(
            'SELECT dek_version, content FROM compliance_baa_documents WHERE id = $1',
            [row.id],
          )
        ).rows[0],
    );
    expect(rotated?.dek_version).toBeGreaterThan(row.dek_version);
    expect(rotated?.content.equals(row.content)).toBe(false);
    expect((await c.baas.readDocument(tenant, baa.id, ACTOR)).bytes.equals(plaintext)).toBe(true);

    // A ciphertext moved from another document does not authenticate; deleting is refused.
    const second = await c.baas.attachDocument(
      tenant,
      baa.id,
      { bytes: Buffer.from('%PDF amendment 1'), mediaType: 'application/pdf' },
      ACTOR,
    );
    expect(second.version).toBe(2);
    await p.db.withTenant(tenant, (tx) =>
      tx.query(
        `UPDATE compliance_baa_documents SET content = (SELECT content FROM compliance_baa_documents WHERE id = $1)
          WHERE id = $2`,
        [row.id, second.documentId],
      ),
    );
    await expect(c.baas.readDocument(tenant, baa.id, ACTOR)).rejects.toMatchObject({
      code: 'integrity_error',
    });
    await expect(
      p.db.withTenant(tenant, (tx) =>
        tx.query('DELETE FROM compliance_baa_documents WHERE id = $1', [row.id]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    // The first document is still there, with its own digest, for the record.
    const history = await c.baas.history(tenant, baa.id);
    expect(history.map((h) => h.documentSha256)).toEqual([digest, second.documentSha256]);
  });
});
