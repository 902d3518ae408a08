/**
 * What Scrip's configuration says it is made of, as inventory entries: the application server, its
 * database (embedded or external), its key provider (local files or a PKCS#11 HSM), clinician
 * endpoints, the tenant's identity providers, alert webhooks, audit export targets, and pharmacy
 * endpoints when the network domain has them, with the data flows between them and the
 * integrations that send data out. platform-inventory.ts writes them into the inventory.
 */
import type { Config } from '../config/index.js';
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { AssetKind, Attributes, PhiClassification } from './inventory.model.js';
import type { IntegrationKind } from './integration-gate.js';

/** What the configuration says about the platform (no secrets: hosts and kinds only). */
export interface PlatformFacts {
  readonly databaseKind: 'embedded' | 'external';
  readonly databaseHost: string | null;
  readonly keyProvider: 'local' | 'pkcs11';
  readonly insecureHttp: boolean;
  readonly operatorCertificate: boolean;
  /** Origin (scheme, host, port) of the alert webhook; never its path or secret. */
  readonly alertWebhookOrigin: string | null;
  readonly auditExportDir: boolean;
  readonly auditWitnessDir: boolean;
}

export function hostOf(url: string | undefined): string | null {
  if (url === undefined) return null;
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

export function platformFacts(config: Config): PlatformFacts {
  let webhook: string | null = null;
  if (config.SCRIP_ALERT_WEBHOOK_URL !== undefined) {
    try {
      webhook = new URL(config.SCRIP_ALERT_WEBHOOK_URL).origin;
    } catch {
      webhook = null;
    }
  }
  return {
    databaseKind: config.DATABASE_URL === undefined ? 'embedded' : 'external',
    databaseHost: hostOf(config.DATABASE_URL),
    keyProvider: config.SCRIP_KEY_PROVIDER,
    insecureHttp: config.SCRIP_INSECURE_HTTP,
    operatorCertificate:
      config.SCRIP_TLS_CERT_FILE !== undefined && config.SCRIP_TLS_KEY_FILE !== undefined,
    alertWebhookOrigin: webhook,
    auditExportDir: config.SCRIP_AUDIT_EXPORT_DIR !== undefined,
    auditWitnessDir: config.SCRIP_AUDIT_WITNESS_DIR !== undefined,
  };
}

/** A pharmacy network endpoint the network domain sends to (it provides the list). */
export interface PharmacyEndpoint {
  /** Its stable id in the network domain (the integration's `ref`). */
  readonly ref: string;
  readonly name: string;
}

/** The network domain's pharmacy endpoints of a tenant (none until that domain exists). */
export interface PharmacyEndpointSource {
  list(tx: Tx, tenantId: TenantId): Promise<readonly PharmacyEndpoint[]>;
}

export const noPharmacyEndpoints: PharmacyEndpointSource = { list: async () => [] };

export interface DesiredAsset {
  readonly key: string;
  readonly kind: AssetKind;
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  readonly phi: PhiClassification;
  readonly attributes: Attributes;
}

export interface DesiredFlow {
  readonly key: string;
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly phiCategories: readonly string[];
  readonly transport: string;
  readonly encryption: string;
  readonly description: string;
}

export interface DesiredIntegration {
  readonly key: string;
  readonly kind: IntegrationKind;
  readonly name: string;
  readonly ref: string;
  readonly assetKey: string;
  /** Per the data Scrip sends it (see each entry); people may say otherwise. */
  readonly sendsPhi: boolean;
  readonly enabled: boolean;
}

export interface Desired {
  readonly assets: readonly DesiredAsset[];
  readonly flows: readonly DesiredFlow[];
  readonly integrations: readonly DesiredIntegration[];
}

const OPERATOR = 'Platform operator';
const CLINICAL = ['demographics', 'prescriptions', 'medications'];

export function describePlatform(
  facts: PlatformFacts,
  idps: readonly { issuer: string; enabled: boolean }[],
  pharmacies: readonly PharmacyEndpoint[],
): Desired {
  const tls = facts.insecureHttp
    ? 'plain HTTP to a TLS-terminating proxy (SCRIP_INSECURE_HTTP)'
    : 'TLS 1.3 / 1.2 (ECDHE, AEAD ciphers only)';
  const assets: DesiredAsset[] = [
    {
      key: 'scrip.server',
      kind: 'service',
      name: 'Scrip application server',
      description: 'HTTPS API, background workers and the audit log writer',
      owner: OPERATOR,
      phi: 'ephi',
      attributes: {
        transport: tls,
        certificate: facts.operatorCertificate ? 'operator' : 'local CA',
      },
    },
    {
      key: 'scrip.database',
      kind: 'database',
      name:
        facts.databaseKind === 'embedded'
          ? 'PostgreSQL (embedded)'
          : `PostgreSQL (${facts.databaseHost ?? 'external'})`,
      description: 'Tenant data with PHI columns sealed per tenant; audit log',
      owner: OPERATOR,
      phi: 'ephi',
      attributes: {
        kind: facts.databaseKind,
        host: facts.databaseHost,
        atRest: 'AES-256-GCM field encryption, per-tenant data keys',
      },
    },
    {
      key: 'scrip.key_provider',
      kind: 'key_provider',
      name:
        facts.keyProvider === 'pkcs11'
          ? 'PKCS#11 HSM (KEK, signing keys)'
          : 'Local key files (KEK, signing keys)',
      description: 'Key-encryption key and platform signing keys',
      owner: OPERATOR,
      phi: 'limited',
      attributes: { kind: facts.keyProvider },
    },
    {
      key: 'scrip.clients',
      kind: 'endpoint',
      name: 'Clinician browsers and API clients',
      description: 'Workstations and devices used to prescribe and dispense',
      owner: 'Tenant administrator',
      phi: 'ephi',
      attributes: {},
    },
  ];
  const flows: DesiredFlow[] = [
    {
      key: 'flow.clients.server',
      name: 'Clinical requests',
      from: 'scrip.clients',
      to: 'scrip.server',
      phiCategories: CLINICAL,
      transport: 'HTTPS',
      encryption: tls,
      description: 'Prescribing and dispensing through the API',
    },
    {
      key: 'flow.server.database',
      name: 'Storage of tenant records',
      from: 'scrip.server',
      to: 'scrip.database',
      phiCategories: CLINICAL,
      transport:
        facts.databaseKind === 'embedded' ? 'PostgreSQL on loopback' : 'PostgreSQL protocol',
      encryption: 'AES-256-GCM field encryption in the application',
      description: 'PHI columns are sealed before they reach the database',
    },
    {
      key: 'flow.server.key_provider',
      name: 'Data key wrap and unwrap, signatures',
      from: 'scrip.server',
      to: 'scrip.key_provider',
      phiCategories: [],
      transport: facts.keyProvider === 'pkcs11' ? 'PKCS#11' : 'local files',
      encryption:
        facts.keyProvider === 'pkcs11' ? 'keys never leave the token' : 'AES-256-GCM key wrap',
      description: 'No PHI: wrapped data keys and digests to sign',
    },
  ];
  const integrations: DesiredIntegration[] = [];
  for (const idp of idps) {
    const key = `idp:${idp.issuer}`.toLowerCase().slice(0, 200);
    const host = hostOf(idp.issuer) ?? idp.issuer;
    assets.push({
      key,
      kind: 'integration',
      name: `Identity provider ${host}`,
      description: 'OpenID Connect sign-in for the workforce',
      owner: OPERATOR,
      phi: 'limited',
      attributes: { issuer: idp.issuer, enabled: idp.enabled },
    });
    flows.push({
      key: `flow.${key}`,
      name: `Sign-in via ${host}`,
      from: key,
      to: 'scrip.server',
      phiCategories: [],
      transport: 'OpenID Connect over HTTPS',
      encryption: 'TLS',
      description: 'Workforce identity claims; no PHI is sent to the IdP',
    });
    // OIDC sends the IdP no PHI (only the sign-in request); the IdP returns workforce claims.
    integrations.push({
      key,
      kind: 'identity_provider',
      name: `Identity provider ${host}`,
      ref: idp.issuer,
      assetKey: key,
      sendsPhi: false,
      enabled: idp.enabled,
    });
  }
  if (facts.alertWebhookOrigin !== null) {
    const key = 'scrip.alert_webhook';
    assets.push({
      key,
      kind: 'integration',
      name: `Alert webhook ${hostOf(facts.alertWebhookOrigin) ?? ''}`.trim(),
      description: 'Alert notices for the operator',
      owner: OPERATOR,
      phi: 'limited',
      attributes: { origin: facts.alertWebhookOrigin },
    });
    flows.push({
      key: `flow.${key}`,
      name: 'Alert notices',
      from: 'scrip.server',
      to: key,
      phiCategories: [],
      transport: 'HTTPS POST',
      encryption: 'TLS; HMAC-SHA-256 signed',
      description: 'Alert ids, rules, severities and counts only',
    });
    // AlertNotice (src/monitoring/sinks.ts) carries identifiers, codes and counts, never PHI.
    integrations.push({
      key,
      kind: 'alert_webhook',
      name: 'Alert webhook',
      ref: facts.alertWebhookOrigin,
      assetKey: key,
      sendsPhi: false,
      enabled: true,
    });
  }
  for (const [flag, key, name] of [
    [facts.auditExportDir, 'scrip.audit_export', 'Audit export directory'],
    [facts.auditWitnessDir, 'scrip.audit_witness', 'Audit witness directory'],
  ] as const) {
    if (!flag) continue;
    assets.push({
      key,
      kind: 'storage',
      name,
      description: 'Write-once sealed audit segments and signed checkpoints',
      owner: OPERATOR,
      phi: 'limited',
      attributes: {},
    });
    flows.push({
      key: `flow.${key}`,
      name: `${name} writes`,
      from: 'scrip.server',
      to: key,
      phiCategories: [],
      transport: 'filesystem',
      encryption: 'signed (integrity); audit records hold identifiers only',
      description: 'Audit records carry no PHI by contract (src/audit/audit-record.ts)',
    });
    integrations.push({
      key,
      kind: 'export_target',
      name,
      ref: key,
      assetKey: key,
      sendsPhi: false,
      enabled: true,
    });
  }
  for (const p of pharmacies) {
    const key = `pharmacy:${p.ref}`.toLowerCase().slice(0, 200);
    assets.push({
      key,
      kind: 'integration',
      name: `Pharmacy endpoint ${p.name}`.slice(0, 200),
      description: 'NCPDP SCRIPT destination',
      owner: OPERATOR,
      phi: 'ephi',
      attributes: { ref: p.ref },
    });
    flows.push({
      key: `flow.${key}`,
      name: `Prescriptions to ${p.name}`.slice(0, 200),
      from: 'scrip.server',
      to: key,
      phiCategories: CLINICAL,
      transport: 'NCPDP SCRIPT',
      encryption: 'mutual TLS',
      description: 'New prescriptions, changes and cancellations',
    });
    integrations.push({
      key,
      kind: 'pharmacy_network',
      name: `Pharmacy endpoint ${p.name}`.slice(0, 200),
      ref: p.ref,
      assetKey: key,
      sendsPhi: true,
      enabled: true,
    });
  }
  return { assets, flows, integrations };
}
