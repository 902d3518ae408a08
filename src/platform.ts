import type { Config, Logger } from './config/index.js';
import { acquireInstanceLock, createLogger, ensurePrivateDir } from './config/index.js';
import { cryptoRandom, systemClock, type Clock } from './core/index.js';
import {
  NARRATIVE_TABLES,
  composeComplianceProgram,
  type ComplianceProgram,
} from './compliance/program.js';
import { openReassessment } from './compliance/reassessment.js';
import { programEvidence } from './compliance/program-evidence.js';
import { accessReviewEvidence, lastCompletedReview } from './access/access-review-evidence.js';
import {
  identityContainment,
  integrationContainment,
  keyRotationContainment,
} from './compliance/containment-adapters.js';
import {
  attachEmbedded,
  migrateTarget,
  openAppDatabase,
  resolveDatabase,
  type Database,
  type DatabaseTarget,
} from './db/index.js';
import type { KeyProvider } from './crypto/key-provider.js';
import { openKeyProvider } from './crypto/open-provider.js';
import { Keyring } from './crypto/keyring.js';
import { KeyAdmin } from './crypto/key-admin.js';
import { Reencryptor, type KeyEventSink } from './crypto/reencrypt.js';
import { SigningKeyService } from './crypto/signing-keys.js';
import type { EncryptedTable } from './crypto/row-cipher.js';
import { appendAudit, type CheckpointSigner } from './audit/index.js';
import { RoleCatalogService } from './access/role-catalog.service.js';
import { ContextGate } from './access/context-gate.js';
import { PatientAccess } from './access/patient-access.js';
import { PATIENTS, PatientRepository } from './prescribing/patient.repository.js';
import { routingApplier } from './network/pharmacy-directory-change.applier.js';
import { PharmacyDirectoryService } from './network/pharmacy-directory.service.js';
import {
  ChangeControlService,
  createChangeApplierRegistry,
  type ChangeApplierRegistry,
} from './prescribing/change-control.service.js';
import { catalogApplier, formularyApplier } from './prescribing/catalog-change.applier.js';
import {
  composePatients,
  PATIENT_ALLERGIES,
  PATIENT_MEDICATIONS,
  PATIENT_PHARMACIES,
  type Patients,
} from './prescribing/index.js';
import { PRESCRIPTIONS } from './prescribing/prescription.repository.js';
import { composePrescriptions, type Prescriptions } from './prescribing/prescription.module.js';
import { catalogDrugLookup, catalogSafetyChecker } from './prescribing/prescription.adapters.js';
import { configuredInteractionTable } from './prescribing/interaction-table.js';
import { OUTBOX } from './prescribing/prescription.outbox.js';
import { PRESCRIBER_LOGS } from './prescribing/prescriber-log.js';
import { limitsWith } from './prescribing/prescription.validation.js';
import {
  BAA_DOCUMENTS,
  composeCompliance,
  type Compliance,
  type ComplianceOptions,
} from './compliance/index.js';
import { TLS_CIPHERS, TLS_MIN_VERSION } from './crypto/tls-policy.js';
import {
  composeIdentity,
  MFA_TOTP,
  SSO_PROVIDERS,
  SSO_TRANSACTIONS,
  type Identity,
} from './identity/index.js';
import { composeAccessOps, type AccessOps } from './access/access-ops.js';
import {
  immediateAlerter,
  listenForRaisedAlerts,
  LogSink,
  MonitoringService,
  WebhookSink,
  type AlertSink,
} from './monitoring/index.js';
import { composeNetworkNode, type NetworkNode } from './network/network-node.js';
import { NETWORK_IDENTITIES } from './network/network-identity.js';
import { NETWORK_OUTBOX } from './network/network-outbox.table.js';
import { PRESCRIBER_REQUESTS } from './network/prescriber-requests.js';
import { networkPharmacyEndpoints } from './network/send-gate.js';
import { networkTiming } from './network/network-timing.js';
import {
  composePharmacy,
  PHARMACY_ACTIONS,
  PHARMACY_INBOUND,
  registerPharmacyHandlers,
  type PharmacyModule,
} from './pharmacy/index.js';
import { SWITCH_MESSAGES } from './switch/switch-store.js';

/**
 * The composition of domains shared by `scrip serve` and the CLI: database, key provider,
 * keyring and the services over them. Ports (clock, event sink) are passed in here, once.
 */
export interface Platform {
  readonly config: Config;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly target: DatabaseTarget;
  readonly db: Database;
  readonly clock: Clock;
  readonly provider: KeyProvider;
  readonly keyring: Keyring;
  readonly keyAdmin: KeyAdmin;
  readonly reencryptor: Reencryptor;
  readonly signingKeys: SigningKeyService;
  readonly patients: PatientRepository;
  /** Change control appliers by kind; the network domain registers `routing` here. */
  readonly changeAppliers: ChangeApplierRegistry;
  readonly changes: ChangeControlService;
  /** Patient services over the choke point (access.patients): records, care teams, allergies, medications. */
  readonly patientServices: Patients;
  /** The compliance program: risks, incidents and containment, breach clock, policies. */
  readonly complianceProgram: ComplianceProgram;
  /** Prescriptions: drafting, review, signing (EPCS), outbox, prescriber logs. */
  readonly prescriptions: Prescriptions;
  readonly pharmacies: PharmacyDirectoryService;
  /** The network node: identities, inbound dispatcher, generic outbox, prescriber queue. */
  readonly network: NetworkNode;
  /** The pharmacy side: inbound NewRx/CancelRx handlers, the pharmacist's inbox, set-up. */
  readonly pharmacy: PharmacyModule;
  readonly identity: Identity;
  readonly access: Access;
  /** JIT grants, break-glass and access reviews (src/access/access-ops.ts). */
  readonly accessOps: AccessOps;
  readonly compliance: Compliance;
  close(): Promise<void>;
}

/** Access control: the role catalog, the context gate, the patient relationship choke point. */
export interface Access {
  readonly roles: RoleCatalogService;
  readonly context: ContextGate;
  readonly patients: PatientAccess;
}

/** Every table with encrypted PHI columns (re-encryption and key status visit them). */
export const ENCRYPTED_TABLES: readonly EncryptedTable[] = [
  PATIENTS,
  PATIENT_ALLERGIES,
  PATIENT_MEDICATIONS,
  PATIENT_PHARMACIES,
  MFA_TOTP,
  SSO_PROVIDERS,
  SSO_TRANSACTIONS,
  PRESCRIPTIONS,
  OUTBOX,
  PRESCRIBER_LOGS,
  BAA_DOCUMENTS,
  NETWORK_IDENTITIES,
  NETWORK_OUTBOX,
  PRESCRIBER_REQUESTS,
  PHARMACY_INBOUND,
  PHARMACY_ACTIONS,
  SWITCH_MESSAGES,
  ...NARRATIVE_TABLES,
];

export interface OpenOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Must own the data directory (serve); otherwise a CLI may attach to a running server's database. */
  readonly lock: boolean;
  readonly lockOwner?: string;
}

export async function openPlatform(config: Config, options: OpenOptions): Promise<Platform> {
  const logger = options.logger ?? createLogger(config.SCRIP_LOG_LEVEL);
  const clock = options.clock ?? systemClock;
  const dataDir = ensurePrivateDir(config.SCRIP_DATA_DIR);
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      await c().catch((err: unknown) => {
        logger.error({ err }, 'shutdown step failed');
      });
    }
  };
  try {
    let target: DatabaseTarget | undefined;
    try {
      const lock = acquireInstanceLock(dataDir, options.lockOwner);
      closers.push(async () => {
        lock.release();
      });
    } catch (err) {
      if (options.lock) throw err;
      // A CLI command beside a running `scrip serve`: on the embedded database it attaches to the
      // server's; on a database server (DATABASE_URL) it connects like any other client.
      if (config.DATABASE_URL === undefined) {
        target = attachEmbedded(config, dataDir);
        if (target === undefined) throw err;
      }
    }
    if (target === undefined) {
      target = await resolveDatabase(config, dataDir, logger);
      const embedded = target.embedded;
      if (embedded !== undefined) closers.push(() => embedded.stop());
    }
    const applied = await migrateTarget(target);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const db = await openAppDatabase(target, {
      max: config.SCRIP_DB_POOL_MAX,
      statementTimeoutMs: config.SCRIP_DB_STATEMENT_TIMEOUT_MS,
    });
    closers.push(() => db.close());
    const provider = await openKeyProvider(config, dataDir);
    closers.push(() => provider.close());
    return { ...compose(config, logger, db, provider, clock), dataDir, target, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Wires the services over an open database and provider (also used by tests). */
export function compose(
  config: Config,
  logger: Logger,
  db: Database,
  provider: KeyProvider,
  clock: Clock,
  events: KeyEventSink = auditKeyEvents(clock),
  compliancePorts: Partial<ComplianceOptions> = {},
): Omit<Platform, 'dataDir' | 'target' | 'close'> {
  const keyring = new Keyring(provider, clock, { cacheTtlMs: config.SCRIP_DEK_CACHE_TTL_MS });
  const changeAppliers = createChangeApplierRegistry([
    catalogApplier,
    formularyApplier,
    routingApplier(clock),
  ]);
  const signingKeys = new SigningKeyService(db, provider, clock, events);
  const compliance = composeCompliance(
    { db, keyring, clock, config, provider, signingKeys },
    {
      tls: { minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS },
      encryptedTables: ENCRYPTED_TABLES,
      changes: {
        // Every asset a changed record concerns gets its linked risks reassessed.
        onInventoryChange: async (tx, tenantId, ref, cause, by) => {
          const actor = by.kind === 'user' ? { tenantId, userId: by.userId } : undefined;
          for (const asset of ref.assetIds) {
            await openReassessment(tx, tenantId, asset, `${ref.type} ${cause}`, { clock, actor });
          }
        },
      },
      accessReviews: {
        latestCompleted: async (tx, tenantId) => {
          const r = await lastCompletedReview(tx, tenantId);
          return r === null ? undefined : { id: r.campaignId, completedAt: r.closedAt };
        },
      },
      evidenceSources: [
        { name: 'program', collect: (tx, tenantId) => programEvidence(tx, tenantId, clock) },
        { name: 'access-reviews', collect: (tx, tenantId) => accessReviewEvidence(tx, tenantId) },
      ],
      pharmacies: networkPharmacyEndpoints,
      ...compliancePorts,
    },
  );
  const identity = composeIdentity(db, keyring, clock, {
    idleMs: config.SCRIP_SESSION_IDLE_MINUTES * 60_000,
    absoluteMs: config.SCRIP_SESSION_ABSOLUTE_HOURS * 3_600_000,
    bearerMs: 15 * 60_000,
    stepUpMs: 5 * 60_000,
    invitationTtlMs: config.SCRIP_INVITATION_TTL_HOURS * 3_600_000,
    bootstrapTtlMs: config.SCRIP_BOOTSTRAP_TTL_MINUTES * 60_000,
    issuer: 'Scrip',
    webauthn: {
      rpId: config.SCRIP_WEBAUTHN_RP_ID,
      rpName: config.SCRIP_WEBAUTHN_RP_NAME,
      origins: config.SCRIP_WEBAUTHN_ORIGIN.split(','),
    },
    // An IdP registered as an integration passes the compliance gate before SSO is enabled.
    ssoEnableGuard: async (tx, tenantId, change) => {
      await compliance.gate.checkEnable(tx, tenantId, 'identity_provider', change.issuer, {
        kind: 'user',
        userId: change.userId,
        sessionId: change.sessionId,
      });
    },
  });
  const patients = new PatientRepository(keyring, clock);
  const patientAccess = new PatientAccess(clock);
  const patientServices = composePatients(db, keyring, clock, patientAccess, patients);
  const interactions = configuredInteractionTable(config.SCRIP_INTERACTIONS_FILE, logger);
  const prescriptions = composePrescriptions({
    db,
    clock,
    keyring,
    signingKeys,
    patients,
    access: patientAccess,
    drugs: catalogDrugLookup,
    safety: catalogSafetyChecker(patientServices.clinical, interactions),
    limits: limitsWith(config.SCRIP_RX_LIMITS),
    outbox: { deadlineMs: networkTiming(config).deadlineMs },
  });
  const keyAdmin = new KeyAdmin(db, keyring, provider, ENCRYPTED_TABLES, clock, events, {
    requestTtlMs: config.SCRIP_KEY_REQUEST_TTL_HOURS * 3_600_000,
    maxKeyAgeDays: config.SCRIP_KEY_MAX_AGE_DAYS,
  });
  const network = composeNetworkNode({
    db,
    clock,
    keyring,
    access: patientAccess,
    rx: prescriptions.service,
    deadlineMs: networkTiming(config).deadlineMs,
  });
  // The pharmacy side answers NewRx/CancelRx To P and sends through the node's outbox.
  const pharmacy = composePharmacy({ db, keyring, clock, outbox: network.outbox });
  registerPharmacyHandlers(network, pharmacy.receiver);
  return {
    config,
    logger,
    db,
    clock,
    provider,
    keyring,
    keyAdmin,
    compliance,
    complianceProgram: composeComplianceProgram(db, keyring, clock, {
      ...identityContainment(identity.users),
      ...keyRotationContainment(keyAdmin),
      ...integrationContainment(compliance.gate),
    }),
    reencryptor: new Reencryptor(db, keyring, ENCRYPTED_TABLES, clock, events),
    signingKeys,
    patients,
    patientServices,
    prescriptions,
    network,
    access: {
      roles: new RoleCatalogService(db, clock),
      context: new ContextGate(db, clock, {
        stepUpValidMs: config.SCRIP_CONTEXT_STEP_UP_MINUTES * 60_000,
        deviceTtlMs: config.SCRIP_TRUSTED_DEVICE_DAYS * 86_400_000,
      }),
      patients: patientAccess,
    },
    changeAppliers,
    changes: new ChangeControlService(db, changeAppliers, clock),
    identity,
    accessOps: composeAccessOps(db, clock, identity.sessions, immediateAlerter(cryptoRandom)),
    pharmacies: new PharmacyDirectoryService(db, clock),
    pharmacy,
  };
}

/** Key events become audit records in the transaction of the change (45 CFR 164.312(b)). */
export function auditKeyEvents(clock: Clock): KeyEventSink {
  return async (tx, event) => {
    await appendAudit(
      tx,
      {
        tenantId: event.tenantId,
        actor:
          event.actor === undefined
            ? { kind: 'system' }
            : { kind: 'user', userId: event.actor, role: 'security_admin' },
        action: event.action,
        outcome: event.outcome ?? 'success',
        details: event.details,
      },
      clock,
    );
  };
}

/** The audit checkpoint signer: the platform's active signing key, the note key named by origin. */
export async function checkpointSigner(
  signingKeys: SigningKeyService,
  origin: string,
): Promise<CheckpointSigner> {
  const active = await signingKeys.active();
  return { name: origin, publicKey: active.publicKey.publicKey, sign: (m) => active.sign(m) };
}

/**
 * Starts the alert rules over the audit stream with the configured sinks: the log always, and the
 * signed webhook when SCRIP_ALERT_WEBHOOK_URL and its secret are set. `scrip serve` and
 * `scrip switch` both run it; the caller stops it on shutdown.
 */
export function startMonitoring(
  config: Config,
  platform: Pick<Platform, 'db' | 'clock'>,
  logger: Logger,
): MonitoringService {
  const sinks: AlertSink[] = [new LogSink(logger)];
  if (
    config.SCRIP_ALERT_WEBHOOK_URL !== undefined &&
    config.SCRIP_ALERT_WEBHOOK_SECRET !== undefined
  ) {
    sinks.push(
      new WebhookSink({
        url: config.SCRIP_ALERT_WEBHOOK_URL,
        secret: config.SCRIP_ALERT_WEBHOOK_SECRET,
        clock: platform.clock,
      }),
    );
  }
  const monitoring = new MonitoringService({
    db: platform.db,
    sinks,
    clock: platform.clock,
    wake: listenForRaisedAlerts(platform.db), // break-glass etc. reach the sinks on commit
    onError: (err) => {
      logger.error({ err }, 'monitoring failed');
    },
  });
  monitoring.start();
  return monitoring;
}
