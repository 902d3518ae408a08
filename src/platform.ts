import type { Config, Logger } from './config/index.js';
import { acquireInstanceLock, createLogger, ensurePrivateDir } from './config/index.js';
import { systemClock, type Clock } from './core/index.js';
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
import { PATIENTS, PatientRepository } from './prescribing/patient.repository.js';
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
  readonly identity: Identity;
  readonly compliance: Compliance;
  close(): Promise<void>;
}

/** Every table with encrypted PHI columns (re-encryption and key status visit them). */
export const ENCRYPTED_TABLES: readonly EncryptedTable[] = [
  PATIENTS,
  MFA_TOTP,
  SSO_PROVIDERS,
  SSO_TRANSACTIONS,
  BAA_DOCUMENTS,
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
      // A CLI command beside a running `scrip serve` attaches to its embedded database.
      if (options.lock || config.DATABASE_URL !== undefined) throw err;
      target = attachEmbedded(config, dataDir);
      if (target === undefined) throw err;
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
  const signingKeys = new SigningKeyService(db, provider, clock, events);
  // Part A's reassessment port and program status, the access-review port, the network domain's
  // pharmacy endpoints and further evidence sources are wired here (compliancePorts) when they land.
  const compliance = composeCompliance(
    { db, keyring, clock, config, provider, signingKeys },
    {
      tls: { minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS },
      encryptedTables: ENCRYPTED_TABLES,
      ...compliancePorts,
    },
  );
  return {
    config,
    logger,
    db,
    clock,
    provider,
    keyring,
    keyAdmin: new KeyAdmin(db, keyring, provider, ENCRYPTED_TABLES, clock, events, {
      requestTtlMs: config.SCRIP_KEY_REQUEST_TTL_HOURS * 3_600_000,
      maxKeyAgeDays: config.SCRIP_KEY_MAX_AGE_DAYS,
    }),
    reencryptor: new Reencryptor(db, keyring, ENCRYPTED_TABLES, clock, events),
    signingKeys,
    compliance,
    patients: new PatientRepository(keyring, clock),
    identity: composeIdentity(db, keyring, clock, {
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
    }),
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
