/**
 * What the live control checks need from outside this module: the platform's settings, and ports
 * for the evidence other modules keep (access reviews, the risk register, policies, training and
 * incidents of the compliance program's part A). An unwired port answers "no record", so its
 * controls fail until the record exists: a control without evidence is not a passing control.
 */
import type { Config } from '../config/index.js';
import type { Clock, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { EncryptedTable } from '../crypto/row-cipher.js';

/** The access-review module's answer: its latest completed review of the tenant, if any. */
export interface AccessReviewPort {
  latestCompleted(
    tx: Tx,
    tenantId: TenantId,
  ): Promise<{ readonly id: string; readonly completedAt: Date } | undefined>;
}

export const noAccessReviews: AccessReviewPort = { latestCompleted: async () => undefined };

/** Program areas whose evidence lives in part A (risk register, incidents, policies, training). */
export const PROGRAM_TOPICS = [
  'risk_analysis',
  'risk_management',
  'sanction_policy',
  'security_training',
  'malware_protection',
  'incident_procedures',
  'contingency_plan',
  'policies',
] as const;
export type ProgramTopic = (typeof PROGRAM_TOPICS)[number];

export interface ProgramStatusPort {
  /** The current state of one program area, or undefined when nothing is recorded. */
  status(
    tx: Tx,
    tenantId: TenantId,
    topic: ProgramTopic,
  ): Promise<{ readonly ok: boolean; readonly details: string } | undefined>;
}

export const noProgramStatus: ProgramStatusPort = { status: async () => undefined };

/** The settings the checks read (from Config, and the HTTP layer's TLS constants). */
export interface ControlSettings {
  readonly insecureHttp: boolean;
  readonly tlsMinVersion: string;
  /** OpenSSL cipher list of TLS 1.2 and 1.3 suites served. */
  readonly tlsCiphers: string;
  readonly tlsCertFile: string | undefined;
  readonly sessionIdleMinutes: number;
  readonly sessionAbsoluteHours: number;
  readonly keyMaxAgeDays: number;
  readonly auditRetentionYears: number;
  readonly keyProvider: 'local' | 'pkcs11';
}

/** The TLS policy the HTTP layer enforces (http/app.ts), passed in by the composition root. */
export interface TlsPolicy {
  readonly minVersion: string;
  readonly ciphers: string;
}

export function controlSettings(config: Config, tls: TlsPolicy): ControlSettings {
  return {
    insecureHttp: config.SCRIP_INSECURE_HTTP,
    tlsMinVersion: tls.minVersion,
    tlsCiphers: tls.ciphers,
    tlsCertFile: config.SCRIP_TLS_CERT_FILE,
    sessionIdleMinutes: config.SCRIP_SESSION_IDLE_MINUTES,
    sessionAbsoluteHours: config.SCRIP_SESSION_ABSOLUTE_HOURS,
    keyMaxAgeDays: config.SCRIP_KEY_MAX_AGE_DAYS,
    auditRetentionYears: config.SCRIP_AUDIT_RETENTION_YEARS,
    keyProvider: config.SCRIP_KEY_PROVIDER,
  };
}

export interface ControlDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly settings: ControlSettings;
  readonly accessReviews: AccessReviewPort;
  readonly program: ProgramStatusPort;
  /** Every table with sealed PHI columns (platform.ts ENCRYPTED_TABLES). */
  readonly encryptedTables: readonly EncryptedTable[];
  /** The active platform signing key, looked up in the key provider (never generated here). */
  readonly signingKey: () => Promise<{ readonly keyId: string } | undefined>;
  /** Whether node:crypto runs on a working FIPS provider (src/crypto/fips.ts). */
  readonly cryptoModule: () => Promise<{
    readonly fipsOperational: boolean;
    readonly detail: string;
  }>;
}
