import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { createCheckpoint } from '../../src/audit/index.js';
import {
  verifyEvidenceBundle,
  type Compliance,
  type EvidenceSource,
  type Manifest,
} from '../../src/compliance/index.js';
import { checkpointSigner } from '../../src/platform.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { ACTOR, complianceOf, vendorWithIntegration } from './helpers.js';

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split('\\').join('/'))
    .sort();
}

/** Our own stand-in for part A's programEvidence and the access-review results. */
const sources: EvidenceSource[] = [
  {
    name: 'risk-register',
    collect: async (tx, tenantId) => {
      const { rows } = await tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM compliance_assets',
      );
      return {
        tenantId,
        risks: [{ id: 'R-1', title: 'Lost clinician laptop', residual: 6 }],
        assetsSeen: rows[0]?.n,
      };
    },
  },
  { name: 'access-reviews', collect: async () => ({ reviews: [] }) },
];

describe('the evidence bundle', () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  const root = mkdtempSync(join(tmpdir(), 'scrip-evidence-'));
  let p: TestPlatform;
  let c: Compliance;
  let tenant: TenantId;
  let dir: string;

  beforeAll(async () => {
    p = await testPlatform(clock, { isolated: true });
    c = complianceOf(p, { evidenceSources: sources });
    tenant = await freshTenant(p.db);
    const { integrationId } = await vendorWithIntegration(c, tenant, {
      effective: '2026-01-01',
      expiry: '2027-01-01',
    });
    await c.integrations.enable(tenant, integrationId, ACTOR);
    await createCheckpoint(
      p.db,
      await checkpointSigner(p.signingKeys, p.config.SCRIP_AUDIT_ORIGIN),
      p.config.SCRIP_AUDIT_ORIGIN,
      { clock },
    );
    dir = join(root, 'bundle');
    const r = await c.evidence.export(tenant, dir, ACTOR);
    expect(r).toMatchObject({ auditLogOk: true, files: 14 });
  }, 120_000);
  afterAll(async () => {
    await p.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('holds the report, inventory, map, BAAs, sources, checkpoint and a signed manifest of them', () => {
    expect(allFiles(dir)).toEqual([
      'audit/checkpoint.json',
      'audit/verification.json',
      'controls/report.html',
      'controls/report.json',
      'inventory/assets.json',
      'inventory/data-flow-map.dot',
      'inventory/data-flow-map.json',
      'inventory/data-flow-map.svg',
      'inventory/data-flows.json',
      'manifest.json',
      'manifest.jws',
      'signing-key.jwk.json',
      'sources/access-reviews.json',
      'sources/risk-register.json',
      'vendors/baas.json',
      'vendors/integrations.json',
      'vendors/vendors.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest).toMatchObject({ format: 'scrip-evidence-bundle/v1', tenantId: tenant });
    const baas = JSON.parse(readFileSync(join(dir, 'vendors/baas.json'), 'utf8')) as {
      baas: { documentSha256: string }[];
    };
    expect(baas.baas[0]?.documentSha256).toMatch(/^[0-9a-f]{64}$/);
    // The signed document never leaves the database: neither its bytes nor its base64 appear.
    for (const f of allFiles(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text.includes('Business Associate Agreement between'), f).toBe(false);
      expect(text.includes(Buffer.from('%PDF-1.7\nBusiness Associate').toString('base64')), f).toBe(
        false,
      );
    }
    const report = JSON.parse(readFileSync(join(dir, 'controls/report.json'), 'utf8')) as {
      controls: { controlId: string; status: string }[];
    };
    expect(report.controls.find((x) => x.controlId === 'audit-verified')?.status).toBe('pass');
    expect(report.controls.find((x) => x.controlId === 'baa-coverage')?.status).toBe('pass');
    const checkpoint = JSON.parse(readFileSync(join(dir, 'audit/checkpoint.json'), 'utf8')) as {
      checkpoint: { note: string; treeSize: number };
    };
    expect(checkpoint.checkpoint.note.split('\n')[0]).toBe(p.config.SCRIP_AUDIT_ORIGIN);
    expect(JSON.parse(readFileSync(join(dir, 'sources/risk-register.json'), 'utf8'))).toMatchObject(
      {
        tenantId: tenant,
        risks: [{ id: 'R-1' }],
      },
    );
  });

  it('verifies offline, and with the published JWKS pinned', async () => {
    expect(verifyEvidenceBundle(dir)).toMatchObject({
      ok: true,
      problems: [],
      keyTrusted: false,
      files: 14,
    });
    const jwks = await p.signingKeys.jwks();
    expect(verifyEvidenceBundle(dir, { trustedKeys: jwks })).toMatchObject({
      ok: true,
      keyTrusted: true,
    });
    expect(verifyEvidenceBundle(dir, { trustedKeys: { keys: [] } }).problems).toEqual([
      { file: 'signing-key.jwk.json', problem: 'not one of the trusted signing keys' },
    ]);
  });

  it('fails, naming the file, when any byte of any file changes', () => {
    for (const f of allFiles(dir)) {
      const path = join(dir, f);
      const original = readFileSync(path);
      try {
        for (const at of [0, Math.floor(original.length / 2), original.length - 1]) {
          const tampered = Buffer.from(original);
          tampered[at] = (tampered[at] ?? 0) ^ 0x01;
          writeFileSync(path, tampered);
          const r = verifyEvidenceBundle(dir);
          expect(r.ok, `${f} byte ${String(at)}`).toBe(false);
          expect(
            r.problems.map((x) => x.file),
            `${f} byte ${String(at)}`,
          ).toContain(f);
        }
      } finally {
        writeFileSync(path, original);
      }
    }
    expect(verifyEvidenceBundle(dir).ok).toBe(true);
  });

  it('fails when a file is added, removed, renamed, or replaced by a link', () => {
    writeFileSync(join(dir, 'inventory/extra.json'), '{}\n');
    expect(verifyEvidenceBundle(dir).problems).toEqual([
      { file: 'inventory/extra.json', problem: 'not listed in the manifest' },
    ]);
    unlinkSync(join(dir, 'inventory/extra.json'));
    const svg = join(dir, 'inventory/data-flow-map.svg');
    const saved = readFileSync(svg);
    unlinkSync(svg);
    expect(verifyEvidenceBundle(dir).problems).toEqual([
      { file: 'inventory/data-flow-map.svg', problem: 'listed in the manifest but missing' },
    ]);
    symlinkSync(join(dir, 'inventory/data-flow-map.dot'), svg);
    expect(verifyEvidenceBundle(dir).problems.map((x) => x.file)).toContain(
      'inventory/data-flow-map.svg',
    );
    unlinkSync(svg);
    writeFileSync(svg, saved);
    renameSync(join(dir, 'manifest.jws'), join(dir, 'manifest.sig'));
    expect(
      verifyEvidenceBundle(dir)
        .problems.map((x) => x.file)
        .sort(),
    ).toEqual(['manifest.jws', 'manifest.sig']);
    renameSync(join(dir, 'manifest.sig'), join(dir, 'manifest.jws'));
    appendFileSync(join(dir, 'manifest.json'), ' ');
    expect(verifyEvidenceBundle(dir).problems[0]?.file).toBe('manifest.json');
    writeFileSync(
      join(dir, 'manifest.json'),
      readFileSync(join(dir, 'manifest.json')).subarray(0, -1),
    );
    expect(verifyEvidenceBundle(dir).ok).toBe(true);
  });

  it('refuses to write into a non-empty directory, and records each export', async () => {
    await expect(c.evidence.export(tenant, dir, ACTOR)).rejects.toMatchObject({ code: 'conflict' });
    const rows = await p.db.withTenant(
      tenant,
      async (tx) =>
        (await tx.query<{ files: number }>('SELECT files FROM compliance_evidence_exports')).rows,
    );
    expect(rows).toEqual([{ files: 14 }]);
    const audit = await p.db.withTenant(tenant, async (tx) =>
      (await tx.query<{ action: string }>('SELECT action FROM audit_log ORDER BY seq')).rows.map(
        (r) => r.action,
      ),
    );
    expect(audit).toEqual(
      expect.arrayContaining(['compliance.controls.run', 'compliance.evidence.export']),
    );
  });
});
