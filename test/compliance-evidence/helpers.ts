import type { TenantId } from '../../src/core/index.js';
import type { Tx } from '../../src/db/index.js';
import {
  composeCompliance,
  type BaaInput,
  type Compliance,
  type ComplianceActor,
  type ComplianceOptions,
  type InventoryChangeCause,
  type InventoryChangePort,
  type InventoryRef,
} from '../../src/compliance/index.js';
import { TLS_CIPHERS, TLS_MIN_VERSION } from '../../src/crypto/tls-policy.js';
import { ENCRYPTED_TABLES } from '../../src/platform.js';
import type { TestPlatform } from '../platform.js';
import type { Config } from '../../src/config/index.js';

export const ACTOR: ComplianceActor = {
  kind: 'user',
  userId: '00000000-0000-4000-8000-00000000c0de',
};

/** A recording reassessment port: what part A would receive. */
export class RecordingChanges implements InventoryChangePort {
  readonly calls: {
    tenantId: string;
    ref: InventoryRef;
    cause: InventoryChangeCause;
    inTx: boolean;
  }[] = [];
  async onInventoryChange(
    tx: Tx,
    tenantId: TenantId,
    assetRef: InventoryRef,
    cause: InventoryChangeCause,
  ): Promise<void> {
    // Proves the call happens inside the change's transaction: the new version is visible.
    const { rows } = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM compliance_assets WHERE record_id = $1
       UNION ALL SELECT count(*)::int FROM compliance_data_flows WHERE record_id = $1
       UNION ALL SELECT count(*)::int FROM compliance_integrations WHERE record_id = $1`,
      [assetRef.id],
    );
    this.calls.push({ tenantId, ref: assetRef, cause, inTx: rows.some((r) => r.n > 0) });
  }
}

/** The compliance services over a test platform, with ports of the test's choosing. */
export function complianceOf(
  p: TestPlatform,
  options: Partial<ComplianceOptions> = {},
  config: Config = p.config,
): Compliance {
  return composeCompliance(
    {
      db: p.db,
      keyring: p.keyring,
      clock: p.clock,
      config,
      provider: p.provider,
      signingKeys: p.signingKeys,
    },
    {
      tls: { minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS },
      encryptedTables: ENCRYPTED_TABLES,
      ...options,
    },
  );
}

export const SIGNED_PDF = Buffer.from(
  '%PDF-1.7\nBusiness Associate Agreement between First Clinic and Acme Rx Network; signed.\n%%EOF\n',
  'utf8',
);

export function baaTerms(
  vendorId: string,
  effectiveDate: string,
  expiryDate: string | null,
): BaaInput {
  return {
    vendorId,
    parties: ['First Clinic', 'Acme Rx Network'],
    effectiveDate,
    expiryDate,
    permittedUses: 'Routing prescriptions to pharmacies on behalf of the covered entity',
    breachNoticeDays: 10,
    subcontractorFlowDown: true,
    auditRights: true,
    returnDestruction: 'Return or destroy all PHI within 30 days of termination',
  };
}

/** A vendor, a PHI integration to it (disabled), and optionally a signed BAA. */
export async function vendorWithIntegration(
  c: Compliance,
  tenantId: TenantId,
  baa?: { effective: string; expiry: string | null },
): Promise<{ vendorId: string; integrationId: string; baaId: string | undefined }> {
  const vendor = await c.vendors.create(
    tenantId,
    {
      name: 'Acme Rx Network',
      services: 'Pharmacy network switch',
      contact: 'security@acme.example',
      riskRating: 'high',
      phiAccess: true,
    },
    ACTOR,
  );
  const integration = await c.integrations.create(
    tenantId,
    {
      kind: 'pharmacy_network',
      name: 'Acme switch',
      ref: `acme-${vendor.id}`,
      vendorId: vendor.id,
      sendsPhi: true,
    },
    ACTOR,
  );
  let baaId: string | undefined;
  if (baa !== undefined) {
    const b = await c.baas.create(tenantId, baaTerms(vendor.id, baa.effective, baa.expiry), ACTOR, {
      bytes: SIGNED_PDF,
      mediaType: 'application/pdf',
    });
    baaId = b.id;
  }
  return { vendorId: vendor.id, integrationId: integration.id, baaId };
}
