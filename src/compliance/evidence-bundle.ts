/**
 * `scrip evidence export`: a directory proving the program operates (45 CFR 164.316(b)(1),
 * (b)(2)(ii); 164.308(a)(8)): the control report (JSON and HTML) of a fresh run of every live
 * check, the inventory and data-flow map (JSON, DOT, SVG), vendors, BAAs (metadata and document
 * digests, never the documents), integrations, the latest signed audit checkpoint and a fresh
 * verification of the whole audit log, and whatever the pluggable evidence sources add (the risk
 * register, incidents, policies and training of part A; access reviews). A manifest lists every
 * file's SHA-256 and size; it is signed with the platform signing key as a detached ES256 JWS
 * over its RFC 8785 canonical form, and the public JWK is included, so
 * {@link verifyEvidenceBundle} checks the bundle offline.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomUUID, type KeyObject } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { canonicalizeToBytes } from '../crypto/jcs.js';
import { signCompactJws } from '../crypto/jws.js';
import type { ActiveSigner } from '../crypto/signing-keys.js';
import type { BaaService } from './baa.service.js';
import { buildFlowMap, toDot, toSvg } from './data-flow-map.js';
import {
  BUNDLE_FORMAT,
  canonicalFile,
  isBundlePath,
  KEY_FILE,
  MANIFEST_FILE,
  MANIFEST_JWS_TYP,
  SIGNATURE_FILE,
  type Manifest,
  type ManifestEntry,
} from './evidence-verify.js';
import { reportHtml, type ControlRunner } from './control-report.js';
import { listIntegrationsTx } from './integration-gate.js';
import type { InventoryService } from './inventory.service.js';
import type { VendorService } from './vendor.service.js';
import { verifyAndRecordAuditLog } from './verification-runs.js';
import { actorLabel, auditCompliance, type ComplianceActor } from './versioned-store.js';
import type { SyncReport } from './platform-inventory.js';

/**
 * A pluggable part of the bundle: `collect` runs in a transaction in the tenant's context and
 * returns JSON-serialisable evidence, written to `sources/<name>.json`. It must not return PHI.
 */
export interface EvidenceSource {
  readonly name: string;
  collect(tx: Tx, tenantId: TenantId): Promise<unknown>;
}

const SOURCE_NAME_RE = /^[a-z][a-z0-9_-]{0,63}$/;

export interface EvidenceExportDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly inventory: InventoryService;
  readonly vendors: VendorService;
  readonly baas: BaaService;
  readonly controls: ControlRunner;
  readonly sources: readonly EvidenceSource[];
  /** Brings Scrip's own components into the inventory before it is exported. */
  readonly syncInventory: (tenantId: TenantId, actor: ComplianceActor) => Promise<SyncReport>;
  /** The active platform signing key (src/crypto/signing-keys.ts). */
  readonly signer: () => Promise<ActiveSigner>;
  /** Every published signing key, to verify audit checkpoints. */
  readonly auditKeys: () => Promise<readonly KeyObject[]>;
  readonly auditOrigin: string;
}

export interface EvidenceExportResult {
  readonly dir: string;
  readonly files: number;
  readonly manifestSha256: string;
  readonly keyId: string;
  readonly controls: { readonly passed: number; readonly failed: number };
  readonly auditLogOk: boolean;
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

function emptyOrAbsent(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new AppError('validation_failed', `${dir} cannot be read`, { cause: err });
  }
  if (entries.length > 0) {
    throw new AppError('conflict', `${dir} is not empty; an evidence bundle needs a new directory`);
  }
}

export class EvidenceExporter {
  constructor(private readonly deps: EvidenceExportDeps) {
    for (const s of deps.sources) {
      if (!SOURCE_NAME_RE.test(s.name)) throw new TypeError(`evidence source name ${s.name}`);
    }
    if (new Set(deps.sources.map((s) => s.name)).size !== deps.sources.length) {
      throw new TypeError('evidence source names must be unique');
    }
  }

  /** Writes the bundle of `tenantId` into `outDir` (absent or empty); see the module comment. */
  async export(
    tenantId: TenantId,
    outDir: string,
    actor: ComplianceActor,
    extraSources: readonly EvidenceSource[] = [],
  ): Promise<EvidenceExportResult> {
    const dir = resolve(outDir);
    emptyOrAbsent(dir);
    const d = this.deps;
    const sources = [...d.sources, ...extraSources];
    const inventorySync = await d.syncInventory(tenantId, actor);
    const verification = await verifyAndRecordAuditLog(
      d.db,
      await d.auditKeys(),
      d.clock,
      'evidence',
      { origin: d.auditOrigin },
    );
    const report = await d.controls.run(tenantId, actor);
    const files = new Map<string, Buffer>();
    files.set('controls/report.json', json(report));
    files.set('controls/report.html', Buffer.from(reportHtml(report), 'utf8'));

    await d.db.withTenant(tenantId, async (tx) => {
      const assets = await d.inventory.assetsTx(tx, true);
      const flows = await d.inventory.flowsTx(tx, true);
      const vendors = await d.vendors.listTx(tx, true);
      const map = buildFlowMap(assets, flows, vendors);
      files.set('inventory/assets.json', json({ assets, platformSync: inventorySync }));
      files.set('inventory/data-flows.json', json({ flows }));
      files.set('inventory/data-flow-map.json', json(map));
      files.set('inventory/data-flow-map.dot', Buffer.from(toDot(map), 'utf8'));
      files.set('inventory/data-flow-map.svg', Buffer.from(toSvg(map), 'utf8'));
      files.set(
        'vendors/vendors.json',
        json({
          vendors,
          questionnaires: await d.vendors.questionnairesTx(tx),
          remediationItems: await d.vendors.remediationTx(tx),
        }),
      );
      // BAA metadata and the SHA-256 of each signed document; the documents stay sealed.
      files.set('vendors/baas.json', json({ baas: await d.baas.listTx(tx) }));
      files.set(
        'vendors/integrations.json',
        json({ integrations: await listIntegrationsTx(tx, true) }),
      );
      for (const s of sources) {
        files.set(`sources/${s.name}.json`, json(await s.collect(tx, tenantId)));
      }
    });

    const checkpoint = await d.db.withoutTenant(
      async (tx) =>
        (
          await tx.query<{
            tree_size: string;
            root_hash: Buffer;
            origin: string;
            note: string;
            key_id: string;
            created_at: Date;
          }>(
            `SELECT tree_size, root_hash, origin, note, key_id, created_at FROM audit_checkpoints
              ORDER BY tree_size DESC LIMIT 1`,
          )
        ).rows[0],
    );
    files.set(
      'audit/checkpoint.json',
      json(
        checkpoint === undefined
          ? { checkpoint: null }
          : {
              checkpoint: {
                treeSize: Number(checkpoint.tree_size),
                rootHash: checkpoint.root_hash.toString('hex'),
                origin: checkpoint.origin,
                keyId: checkpoint.key_id,
                createdAt: checkpoint.created_at.toISOString(),
                // The C2SP signed note: verifiable with the platform key (scrip audit public-key).
                note: checkpoint.note,
              },
            },
      ),
    );
    files.set(
      'audit/verification.json',
      json({ verifiedAt: d.clock.now().toISOString(), ...verification }),
    );

    const signer = await d.signer();
    const entries: ManifestEntry[] = [...files.entries()]
      .map(([path, bytes]) => {
        if (!isBundlePath(path)) throw new TypeError(`bundle path ${path}`);
        return {
          path,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          bytes: bytes.length,
        };
      })
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const manifest: Manifest = {
      format: BUNDLE_FORMAT,
      tenantId,
      createdAt: d.clock.now().toISOString(),
      keyId: signer.keyId,
      files: entries,
    };
    const canonical = canonicalizeToBytes(manifest);
    const jws = await signCompactJws(canonical, {
      kid: signer.keyId,
      signer: (input) => signer.sign(input),
      typ: MANIFEST_JWS_TYP,
      detached: true,
    });
    files.set(MANIFEST_FILE, canonicalFile(manifest));
    files.set(SIGNATURE_FILE, Buffer.from(`${jws}\n`, 'latin1'));
    files.set(KEY_FILE, canonicalFile(signer.publicKey.jwk));

    mkdirSync(dir, { recursive: true, mode: 0o750 });
    for (const [path, bytes] of files) {
      const target = join(dir, ...path.split('/'));
      mkdirSync(dirname(target), { recursive: true, mode: 0o750 });
      writeFileSync(target, bytes, { flag: 'wx', mode: 0o640 });
    }
    const manifestSha256 = createHash('sha256').update(canonical).digest('hex');
    await d.db.withTenant(tenantId, async (tx) => {
      const id = randomUUID();
      await tx.query(
        `INSERT INTO compliance_evidence_exports (id, tenant_id, exported_at, exported_by, manifest_sha256, files, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          id,
          tenantId,
          d.clock.now(),
          actorLabel(actor),
          manifestSha256,
          entries.length,
          signer.keyId,
        ],
      );
      await auditCompliance(tx, d.clock, tenantId, actor, 'compliance.evidence.export', {
        subjects: [{ type: 'compliance_evidence_export', id }],
        details: { manifestSha256, files: entries.length, keyId: signer.keyId },
      });
    });
    return {
      dir,
      files: entries.length,
      manifestSha256,
      keyId: signer.keyId,
      controls: report.summary,
      auditLogOk: verification.ok,
    };
  }
}
