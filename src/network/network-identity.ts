/**
 * Each tenant's identity on the pharmacy network (issue 8; docs/network.md): the Header address
 * it answers to (D + the clinic's network id, or P + an NCPDP ID for a pharmacy tenant), the
 * client certificate it presents (45 CFR 164.312(e)(1), 21 CFR 1311.170: a client certificate
 * per sending organisation) and the switch it sends through, pinned by SPKI SHA-256.
 *
 * The private key is sealed with the tenant's data key (row cipher, AAD bound to tenant, table,
 * column and row): never a plain column, never in a log.
 */
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { appendAudit } from '../audit/index.js';
import { isSpkiPin, spkiSha256 } from './mtls.js';

export const NETWORK_IDENTITIES: EncryptedTable = {
  table: 'network_identities',
  columns: ['private_key'],
};

/** Audit action of setting (creating or rotating) a network identity. */
export const NETWORK_IDENTITY_SET = 'network.identity.set';

export type AddressQualifier = 'D' | 'P';

export interface IdentityInput {
  readonly qualifier: AddressQualifier;
  readonly address: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly switchUrl?: string | undefined;
  readonly switchPins?: readonly string[] | undefined;
}

/** What may be shown: no key material. */
export interface IdentitySummary {
  readonly id: string;
  readonly qualifier: AddressQualifier;
  readonly address: string;
  readonly certPin: string;
  readonly certSubject: string;
  readonly certNotAfter: string;
  readonly switchUrl: string | null;
  readonly switchPins: readonly string[];
  readonly updatedAt: Date;
}

/** An identity with its opened key, for the worker only. */
export interface IdentityCredentials extends IdentitySummary {
  readonly certPem: string;
  readonly keyPem: string;
}

interface Row {
  id: string;
  qualifier: AddressQualifier;
  address: string;
  cert_pem: string;
  cert_pin: string;
  switch_url: string | null;
  switch_pins: string[];
  private_key: Buffer;
  updated_at: Date;
}

const COLUMNS =
  'id, qualifier, address, cert_pem, cert_pin, switch_url, switch_pins, private_key, updated_at';

function summary(r: Row): IdentitySummary {
  const cert = new X509Certificate(r.cert_pem);
  return {
    id: r.id,
    qualifier: r.qualifier,
    address: r.address,
    certPin: r.cert_pin,
    certSubject: cert.subject.replace(/\n/g, ', '),
    certNotAfter: new Date(cert.validTo).toISOString(),
    switchUrl: r.switch_url,
    switchPins: r.switch_pins,
    updatedAt: r.updated_at,
  };
}

/** Checks an identity: address shape, certificate/key pair, switch URL and pins. */
export function validateIdentity(input: IdentityInput): { cert: X509Certificate } {
  const addressOk =
    input.qualifier === 'P'
      ? /^[0-9]{7}$/.test(input.address)
      : /^[A-Za-z0-9._-]{1,35}$/.test(input.address);
  if (!addressOk) {
    throw new AppError('validation_failed', 'network address is not valid', {
      detail: input.qualifier === 'P' ? 'an NCPDP ID has 7 digits' : 'address',
    });
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input.certPem);
  } catch {
    throw new AppError('validation_failed', 'the certificate is not a PEM X.509 certificate', {
      detail: 'cert',
    });
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(input.keyPem));
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new AppError('validation_failed', 'the private key does not match the certificate', {
      detail: 'key',
    });
  }
  const pins = input.switchPins ?? [];
  if (input.switchUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(input.switchUrl);
    } catch {
      throw new AppError('validation_failed', 'switch URL is not valid', { detail: 'switch' });
    }
    if (url.protocol !== 'https:' || input.switchUrl.length > 2048) {
      throw new AppError('validation_failed', 'switch URL must be https', { detail: 'switch' });
    }
    if (pins.length === 0) {
      throw new AppError('validation_failed', 'a switch needs at least one SPKI pin', {
        detail: 'pin',
      });
    }
  }
  if (pins.length > 4 || !pins.every(isSpkiPin)) {
    throw new AppError('validation_failed', 'pins must be 1 to 4 SPKI SHA-256 values (base64)', {
      detail: 'pin',
    });
  }
  return { cert };
}

export class NetworkIdentityService {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  /** Creates or replaces (rotation) the tenant's identity for this address; audited. */
  async set(
    tenantId: TenantId,
    input: IdentityInput,
    actor: { readonly kind: 'cli' | 'system' },
  ): Promise<IdentitySummary> {
    const { cert } = validateIdentity(input);
    return this.db.withTenant(tenantId, async (tx) => {
      const owner = await tx.query<{ t: string | null }>(
        'SELECT scrip_network_tenant_of($1, $2) AS t',
        [input.qualifier, input.address],
      );
      const current = owner.rows[0]?.t ?? null;
      if (current !== null && current !== tenantId) {
        // Same answer whoever owns it: the address is taken in this installation.
        throw new AppError('conflict', 'this network address is already in use', {
          detail: 'address',
        });
      }
      const existing = await tx.query<{ id: string }>(
        'SELECT id FROM network_identities WHERE qualifier = $1 AND address = $2 FOR UPDATE',
        [input.qualifier, input.address],
      );
      const id = existing.rows[0]?.id ?? randomUUID();
      const { version, sealed } = await sealRow(
        tx,
        this.keyring,
        tenantId,
        NETWORK_IDENTITIES,
        id,
        {
          private_key: input.keyPem,
        },
      );
      const now = this.clock.now();
      const pin = spkiSha256(cert);
      await tx.query(
        `INSERT INTO network_identities (id, tenant_id, qualifier, address, cert_pem, cert_pin,
                                         dek_version, private_key, switch_url, switch_pins,
                                         created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (id) DO UPDATE SET cert_pem = EXCLUDED.cert_pem, cert_pin = EXCLUDED.cert_pin,
           dek_version = EXCLUDED.dek_version, private_key = EXCLUDED.private_key,
           switch_url = EXCLUDED.switch_url, switch_pins = EXCLUDED.switch_pins,
           updated_at = EXCLUDED.updated_at`,
        [
          id,
          tenantId,
          input.qualifier,
          input.address,
          input.certPem,
          pin,
          version,
          sealed.private_key,
          input.switchUrl ?? null,
          [...(input.switchPins ?? [])],
          now,
        ],
      );
      await appendAudit(
        tx,
        {
          tenantId,
          actor: { kind: actor.kind },
          action: NETWORK_IDENTITY_SET,
          outcome: 'success',
          subjects: [{ type: 'network_identity', id }],
          details: {
            qualifier: input.qualifier,
            address: input.address,
            certPin: pin,
            rotated: existing.rows.length > 0,
            viaSwitch: input.switchUrl !== undefined,
          },
        },
        this.clock,
      );
      const row = await this.#row(tx, input.qualifier, input.address);
      if (row === undefined) throw new AppError('internal', 'identity vanished');
      return summary(row);
    });
  }

  /** The tenant's identities (no key material). */
  async list(tenantId: TenantId): Promise<IdentitySummary[]> {
    return this.db.withTenant(tenantId, async (tx) => (await listIdentityRows(tx)).map(summary));
  }

  /** The tenant owning a Header address, if any (dispatch of an inbound message). */
  async tenantOf(qualifier: string, address: string): Promise<TenantId | undefined> {
    return tenantOfAddress(this.db, qualifier, address);
  }

  async #row(tx: Tx, qualifier: string, address: string): Promise<Row | undefined> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM network_identities WHERE qualifier = $1 AND address = $2`,
      [qualifier, address],
    );
    return rows[0];
  }
}

async function listIdentityRows(tx: Tx): Promise<Row[]> {
  return (
    await tx.query<Row>(`SELECT ${COLUMNS} FROM network_identities ORDER BY qualifier, address`)
  ).rows;
}

/** The tenant owning a Header address, if any. */
export async function tenantOfAddress(
  db: Database,
  qualifier: string,
  address: string,
): Promise<TenantId | undefined> {
  const { rows } = await db.withoutTenant((tx) =>
    tx.query<{ t: TenantId | null }>('SELECT scrip_network_tenant_of($1, $2) AS t', [
      qualifier,
      address,
    ]),
  );
  return rows[0]?.t ?? undefined;
}

/** Tenants with at least one network identity (the worker runs only when there are some). */
export async function networkTenants(db: Database): Promise<TenantId[]> {
  const { rows } = await db.withoutTenant((tx) =>
    tx.query<{ id: TenantId }>('SELECT scrip_network_tenants() AS id'),
  );
  return rows.map((r) => r.id);
}

/**
 * The credentials to send as `from` (or, without `from`, the tenant's first identity, D before
 * P); undefined when the tenant has none or its key was shredded. `tx` is in the tenant's context.
 */
export async function credentialsFor(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  from?: { readonly qualifier: string; readonly address: string },
): Promise<IdentityCredentials | undefined> {
  const rows = await listIdentityRows(tx);
  const row =
    from === undefined
      ? rows[0]
      : rows.find((r) => r.qualifier === from.qualifier && r.address === from.address);
  if (row === undefined) return undefined;
  const plain = await openRow(tx, keyring, tenantId, NETWORK_IDENTITIES, row.id, {
    private_key: row.private_key,
  });
  if (plain === SHREDDED || plain.private_key == null) return undefined;
  return { ...summary(row), certPem: row.cert_pem, keyPem: plain.private_key };
}
