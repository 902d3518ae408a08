/**
 * Public API of the compliance domain, part B (issue #9 items 1, 2, 7 and 8): the system inventory
 * and data-flow map, vendors and Business Associate Agreements with the integration gate, the
 * control catalog with live checks, the signed evidence bundle, and the retention rule that
 * nothing here is deleted, only superseded, with every change audited.
 */
import type { Config } from '../config/index.js';
import type { Clock, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { cryptoModuleStatus } from '../crypto/fips.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import type { Keyring } from '../crypto/keyring.js';
import type { EncryptedTable } from '../crypto/row-cipher.js';
import type { SigningKeyService } from '../crypto/signing-keys.js';
import { BaaService } from './baa.service.js';
import {
  loadBaaPolicy,
  runBaaChecks,
  setBaaPolicy,
  type BaaCheckOptions,
  type BaaCheckResult,
  type BaaPolicy,
} from './baa-checks.js';
import {
  controlSettings,
  noAccessReviews,
  noProgramStatus,
  type AccessReviewPort,
  type ControlDeps,
  type ProgramStatusPort,
  type TlsPolicy,
} from './control-ports.js';
import { ControlRunner } from './control-report.js';
import { EvidenceExporter, type EvidenceSource } from './evidence-bundle.js';
import { IntegrationGate, IntegrationService } from './integration.service.js';
import {
  InventoryService,
  noInventoryChanges,
  type InventoryChangePort,
} from './inventory.service.js';
import {
  noPharmacyEndpoints,
  platformFacts,
  syncPlatformInventory,
  type PharmacyEndpointSource,
  type SyncReport,
} from './platform-inventory.js';
import { VendorService } from './vendor.service.js';
import type { ComplianceActor } from './versioned-store.js';

export {
  ASSET_KINDS,
  PHI_CLASSIFICATIONS,
  InventoryService,
  noInventoryChanges,
  type Asset,
  type AssetInput,
  type AssetKind,
  type DataFlow,
  type DataFlowInput,
  type InventoryChangeCause,
  type InventoryChangePort,
  type InventoryRef,
  type PhiClassification,
} from './inventory.service.js';
export {
  platformFacts,
  syncPlatformInventory,
  noPharmacyEndpoints,
  type PharmacyEndpoint,
  type PharmacyEndpointSource,
  type PlatformFacts,
  type SyncReport,
} from './platform-inventory.js';
export { buildFlowMap, toDot, toSvg, escapeXml, dotString, type FlowMap } from './data-flow-map.js';
export {
  RISK_RATINGS,
  VendorService,
  type Questionnaire,
  type QuestionnaireInput,
  type RemediationInput,
  type RemediationItem,
  type RiskRating,
  type Vendor,
  type VendorInput,
} from './vendor.service.js';
export {
  BAA_DOCUMENTS,
  BaaService,
  MAX_DOCUMENT_BYTES,
  standingOf,
  type Baa,
  type BaaDocument,
  type BaaDocumentInput,
  type BaaInput,
  type BaaStanding,
} from './baa.service.js';
export {
  DEFAULT_BAA_POLICY,
  loadBaaPolicy,
  runBaaChecks,
  setBaaPolicy,
  type BaaCheckOptions,
  type BaaCheckResult,
  type BaaPolicy,
} from './baa-checks.js';
export {
  INTEGRATION_KINDS,
  IntegrationGate,
  IntegrationService,
  type GateRefusal,
  type Integration,
  type IntegrationInput,
  type IntegrationKind,
  type IntegrationStatus,
} from './integration.service.js';
export {
  CONTROLS,
  CONTROL_IDS,
  REQUIREMENTS,
  requirementsOf,
  type Control,
  type ControlId,
  type Requirement,
} from './controls.js';
export {
  controlSettings,
  noAccessReviews,
  noProgramStatus,
  PROGRAM_TOPICS,
  type AccessReviewPort,
  type ControlDeps,
  type ControlSettings,
  type ProgramStatusPort,
  type ProgramTopic,
  type TlsPolicy,
} from './control-ports.js';
export {
  CHECKS,
  ControlRunner,
  reportHtml,
  type ControlReport,
  type ControlResult,
  type RequirementResult,
} from './control-report.js';
export {
  EvidenceExporter,
  type EvidenceExportResult,
  type EvidenceSource,
} from './evidence-bundle.js';
export {
  BUNDLE_FORMAT,
  verifyEvidenceBundle,
  type BundleProblem,
  type BundleVerifyReport,
  type Manifest,
} from './evidence-verify.js';
export {
  recentAuditVerification,
  recordAuditVerification,
  recordBackupVerification,
  verifyAndRecordAuditLog,
  type BackupVerification,
  type VerificationSource,
} from './verification-runs.js';
export {
  runComplianceJobs,
  type ComplianceJobDeps,
  type ComplianceJobReport,
} from './compliance-jobs.js';
export {
  CLI_ACTOR,
  SYSTEM_ACTOR,
  actorLabel,
  type ComplianceActor,
  type VersionMeta,
} from './versioned-store.js';

export interface ComplianceOptions {
  /** The HTTP layer's TLS policy (http/app.ts), which the TLS control checks. */
  readonly tls: TlsPolicy;
  /** Every table with sealed PHI columns (platform.ts ENCRYPTED_TABLES). */
  readonly encryptedTables: readonly EncryptedTable[];
  /** Part A's reassessment opener; nothing by default. */
  readonly changes?: InventoryChangePort;
  /** The network domain's pharmacy endpoints; none by default. */
  readonly pharmacies?: PharmacyEndpointSource;
  /** The access-review module; "no completed review" by default. */
  readonly accessReviews?: AccessReviewPort;
  /** Part A's program areas (risk, policies, training, incidents); "no record" by default. */
  readonly program?: ProgramStatusPort;
  /** More parts of the evidence bundle (part A's programEvidence, access reviews). */
  readonly evidenceSources?: readonly EvidenceSource[];
}

export interface ComplianceDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly config: Config;
  readonly provider: KeyProvider;
  readonly signingKeys: SigningKeyService;
}

/** The compliance services, composed once (src/platform.ts). */
export interface Compliance {
  readonly inventory: InventoryService;
  readonly vendors: VendorService;
  readonly baas: BaaService;
  readonly integrations: IntegrationService;
  readonly gate: IntegrationGate;
  readonly controls: ControlRunner;
  readonly evidence: EvidenceExporter;
  syncPlatformInventory(tenantId: TenantId, actor: ComplianceActor): Promise<SyncReport>;
  baaPolicy(tenantId: TenantId): Promise<BaaPolicy>;
  setBaaPolicy(tenantId: TenantId, policy: BaaPolicy, actor: ComplianceActor): Promise<BaaPolicy>;
  /** The daily BAA check under the tenant's own policy. */
  runBaaChecks(tenantId: TenantId, options?: BaaCheckOptions): Promise<BaaCheckResult>;
}

export function composeCompliance(deps: ComplianceDeps, options: ComplianceOptions): Compliance {
  const { db, clock } = deps;
  const changes = options.changes ?? noInventoryChanges;
  const inventory = new InventoryService(db, clock, changes);
  const vendors = new VendorService(db, clock);
  const baas = new BaaService(db, deps.keyring, clock);
  const gate = new IntegrationGate(clock);
  const integrations = new IntegrationService(db, clock, changes, gate);
  let fips: Promise<{ fipsOperational: boolean; detail: string }> | undefined;
  const controlDeps: ControlDeps = {
    db,
    clock,
    settings: controlSettings(deps.config, options.tls),
    accessReviews: options.accessReviews ?? noAccessReviews,
    program: options.program ?? noProgramStatus,
    encryptedTables: options.encryptedTables,
    signingKey: async () => {
      const id = await db.withoutTenant(
        async (tx: Tx) =>
          (
            await tx.query<{ key_id: string }>(
              `SELECT key_id FROM signing_keys WHERE status = 'active'`,
            )
          ).rows[0]?.key_id,
      );
      if (id === undefined) return undefined;
      await deps.provider.getSigningPublicKey(id); // held by the provider, or not_found
      return { keyId: id };
    },
    cryptoModule: () => (fips ??= cryptoModuleStatus()),
  };
  const controls = new ControlRunner(controlDeps);
  const sync = (tenantId: TenantId, actor: ComplianceActor): Promise<SyncReport> =>
    syncPlatformInventory(
      {
        db,
        clock,
        facts: platformFacts(deps.config),
        inventory,
        integrations,
        pharmacies: options.pharmacies ?? noPharmacyEndpoints,
      },
      tenantId,
      actor,
    );
  const evidence = new EvidenceExporter({
    db,
    clock,
    inventory,
    vendors,
    baas,
    controls,
    sources: options.evidenceSources ?? [],
    syncInventory: sync,
    signer: () => deps.signingKeys.active(),
    auditKeys: async () => (await deps.provider.listSigningKeys()).map((k) => k.publicKey),
    auditOrigin: deps.config.SCRIP_AUDIT_ORIGIN,
  });
  return {
    inventory,
    vendors,
    baas,
    integrations,
    gate,
    controls,
    evidence,
    syncPlatformInventory: sync,
    baaPolicy: (tenantId) => db.withTenant(tenantId, (tx) => loadBaaPolicy(tx, tenantId)),
    setBaaPolicy: (tenantId, policy, actor) => setBaaPolicy(db, clock, tenantId, policy, actor),
    runBaaChecks: async (tenantId, checkOptions) => {
      const policy = await db.withTenant(tenantId, (tx) => loadBaaPolicy(tx, tenantId));
      return runBaaChecks(db, tenantId, clock, policy, checkOptions);
    },
  };
}
