/**
 * A pharmacy tenant's set-up: its pharmacies (NCPDP IDs the network addresses, Header To
 * qualifier P), the staff of each (the relationship that opens a pharmacy's inbox, issue 5
 * point 2), and the prescriber systems it trusts (network id → JWKS of their prescription-signing
 * keys, registered out of band like certificate pins). Every change is audited in its
 * transaction; nothing here is PHI.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit, type AuditActor } from '../audit/index.js';
import { importEs256Jwk, type Jwks } from '../crypto/jws.js';
import {
  PHARMACY_LOCATION_CREATE,
  PHARMACY_MEMBER_ADD,
  PHARMACY_MEMBER_REMOVE,
  PHARMACY_SENDER_TRUST,
} from '../monitoring/actions.js';

export interface PharmacyLocation {
  readonly id: string;
  readonly ncpdpId: string;
  readonly npi: string | null;
  readonly name: string;
  readonly active: boolean;
  readonly members: readonly string[];
}

export interface LocationInput {
  readonly ncpdpId: string;
  readonly npi?: string;
  readonly name: string;
}

export interface TrustedSender {
  readonly senderId: string;
  readonly kids: readonly string[];
  readonly updatedAt: Date;
}

const NCPDP_RE = /^[0-9]{7}$/;
const NPI_RE = /^[12][0-9]{9}$/;
/** SCRIPT identifier type (Header From value). */
export const SENDER_ID_RE = /^[A-Za-z0-9._:-]{1,35}$/;
const MAX_KEYS = 20;

/**
 * Checks a prescriber system's JWKS: 1..20 public ES256 keys (no private part), each with a
 * unique `kid`. Returns the clean set (only the public members are kept).
 */
export function checkSenderJwks(input: unknown): Jwks {
  const keys =
    typeof input === 'object' && input !== null && !Array.isArray(input)
      ? (input as { keys?: unknown }).keys
      : undefined;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS) {
    throw new AppError('validation_failed', 'a JWKS with 1 to 20 keys is required', {
      detail: 'jwks',
    });
  }
  const kids = new Set<string>();
  const clean = keys.map((k: unknown) => {
    try {
      importEs256Jwk(k);
    } catch {
      throw new AppError('validation_failed', 'every key must be a public ES256 (P-256) JWK', {
        detail: 'jwks',
      });
    }
    const r = k as Record<string, unknown>;
    const kid = r.kid;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 200 || kids.has(kid)) {
      throw new AppError('validation_failed', 'every key needs a unique kid', { detail: 'jwks' });
    }
    kids.add(kid);
    return { kty: 'EC', crv: 'P-256', x: r.x, y: r.y, kid, use: 'sig', alg: 'ES256' };
  });
  return { keys: clean };
}

function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

export class PharmacySetupService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async listLocations(tenantId: TenantId): Promise<PharmacyLocation[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{
        id: string;
        ncpdp_id: string;
        npi: string | null;
        name: string;
        active: boolean;
        members: string[] | null;
      }>(
        `SELECT l.id, l.ncpdp_id, l.npi, l.name, l.active,
                array_remove(array_agg(m.user_id::text ORDER BY m.added_at), NULL) AS members
           FROM pharmacy_locations l
           LEFT JOIN pharmacy_members m ON m.tenant_id = l.tenant_id AND m.pharmacy_id = l.id
          WHERE l.tenant_id = $1
          GROUP BY l.id ORDER BY l.name, l.ncpdp_id`,
        [tenantId],
      );
      return rows.map((r) => ({
        id: r.id,
        ncpdpId: r.ncpdp_id,
        npi: r.npi,
        name: r.name,
        active: r.active,
        members: r.members ?? [],
      }));
    });
  }

  /** Adds a pharmacy to the tenant; an NCPDP ID already registered in the installation is a conflict. */
  async createLocation(
    tenantId: TenantId,
    input: LocationInput,
    actor: AuditActor,
  ): Promise<PharmacyLocation> {
    if (!NCPDP_RE.test(input.ncpdpId)) {
      throw new AppError('validation_failed', 'NCPDP ID must be 7 digits', { detail: 'ncpdpId' });
    }
    if (input.npi !== undefined && !NPI_RE.test(input.npi)) {
      throw new AppError('validation_failed', 'NPI must be 10 digits', { detail: 'npi' });
    }
    const name = input.name.trim();
    if (name.length === 0 || name.length > 70) {
      throw new AppError('validation_failed', 'name must be 1-70 characters', { detail: 'name' });
    }
    const id = randomUUID();
    const now = this.clock.now();
    try {
      await this.db.withTenant(tenantId, async (tx) => {
        await tx.query(
          `INSERT INTO pharmacy_locations (id, tenant_id, ncpdp_id, npi, name, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)`,
          [id, tenantId, input.ncpdpId, input.npi ?? null, name, now],
        );
        await appendAudit(
          tx,
          {
            tenantId,
            actor,
            action: PHARMACY_LOCATION_CREATE,
            outcome: 'success',
            subjects: [{ type: 'pharmacy_location', id }],
            details: { ncpdpId: input.ncpdpId },
          },
          this.clock,
        );
      });
    } catch (err) {
      if (pgCode(err) === '23505') {
        throw new AppError('conflict', 'this NCPDP ID is already registered', {
          detail: 'ncpdpId',
        });
      }
      throw err;
    }
    return { id, ncpdpId: input.ncpdpId, npi: input.npi ?? null, name, active: true, members: [] };
  }

  /** Makes a user of the tenant a member of one of its pharmacies (idempotent). */
  async addMember(
    tenantId: TenantId,
    locationId: string,
    userId: string,
    actor: AuditActor,
  ): Promise<void> {
    await this.db.withTenant(tenantId, async (tx) => {
      await this.#requireLocation(tx, tenantId, locationId);
      const user = await tx.query(
        'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [tenantId, userId],
      );
      if (user.rowCount === 0) throw new AppError('not_found', 'no such user');
      const ins = await tx.query(
        `INSERT INTO pharmacy_members (tenant_id, pharmacy_id, user_id, added_by, added_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [
          tenantId,
          locationId,
          userId,
          actor.kind === 'user' ? actor.userId : null,
          this.clock.now(),
        ],
      );
      if (ins.rowCount === 0) return;
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: PHARMACY_MEMBER_ADD,
          outcome: 'success',
          subjects: [
            { type: 'pharmacy_location', id: locationId },
            { type: 'user', id: userId },
          ],
        },
        this.clock,
      );
    });
  }

  async removeMember(
    tenantId: TenantId,
    locationId: string,
    userId: string,
    actor: AuditActor,
  ): Promise<void> {
    await this.db.withTenant(tenantId, async (tx) => {
      await this.#requireLocation(tx, tenantId, locationId);
      const del = await tx.query(
        'DELETE FROM pharmacy_members WHERE tenant_id = $1 AND pharmacy_id = $2 AND user_id = $3',
        [tenantId, locationId, userId],
      );
      if (del.rowCount === 0) throw new AppError('not_found', 'no such member');
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: PHARMACY_MEMBER_REMOVE,
          outcome: 'success',
          subjects: [
            { type: 'pharmacy_location', id: locationId },
            { type: 'user', id: userId },
          ],
        },
        this.clock,
      );
    });
  }

  /** Registers (or replaces) a prescriber system's JWKS; the record names the key ids. */
  async trustSender(
    tenantId: TenantId,
    senderId: string,
    jwks: unknown,
    actor: AuditActor,
  ): Promise<TrustedSender> {
    if (!SENDER_ID_RE.test(senderId)) {
      throw new AppError('validation_failed', 'sender id must be a SCRIPT identifier', {
        detail: 'senderId',
      });
    }
    const clean = checkSenderJwks(jwks);
    const kids = clean.keys.map((k) => (k as { kid: string }).kid);
    const now = this.clock.now();
    await this.db.withTenant(tenantId, async (tx) => {
      await tx.query(
        `INSERT INTO pharmacy_trusted_senders (tenant_id, sender_id, jwks, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (tenant_id, sender_id) DO UPDATE SET jwks = EXCLUDED.jwks, updated_at = EXCLUDED.updated_at`,
        [tenantId, senderId, JSON.stringify(clean), now],
      );
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: PHARMACY_SENDER_TRUST,
          outcome: 'success',
          subjects: [{ type: 'network_sender', id: senderId }],
          details: { kids: kids.join(',').slice(0, 1000), keyCount: kids.length },
        },
        this.clock,
      );
    });
    return { senderId, kids, updatedAt: now };
  }

  async listSenders(tenantId: TenantId): Promise<TrustedSender[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ sender_id: string; jwks: Jwks; updated_at: Date }>(
        `SELECT sender_id, jwks, updated_at FROM pharmacy_trusted_senders
          WHERE tenant_id = $1 ORDER BY sender_id`,
        [tenantId],
      );
      return rows.map((r) => ({
        senderId: r.sender_id,
        kids: r.jwks.keys.map((k) => String((k as { kid?: unknown }).kid)),
        updatedAt: r.updated_at,
      }));
    });
  }

  async #requireLocation(tx: Tx, tenantId: TenantId, id: string): Promise<void> {
    const { rowCount } = await tx.query(
      'SELECT 1 FROM pharmacy_locations WHERE tenant_id = $1 AND id = $2',
      [tenantId, id],
    );
    if (rowCount === 0) throw new AppError('not_found', 'no such pharmacy');
  }
}

/** The trusted JWKS of a prescriber system, in the caller's (tenant) transaction. */
export async function senderJwks(tx: Tx, senderId: string): Promise<Jwks | undefined> {
  const { rows } = await tx.query<{ jwks: Jwks }>(
    `SELECT jwks FROM pharmacy_trusted_senders
      WHERE tenant_id = scrip_current_tenant() AND sender_id = $1`,
    [senderId],
  );
  return rows[0]?.jwks;
}

/** The tenant's active pharmacy with this NCPDP ID, in the caller's (tenant) transaction. */
export async function locationByNcpdp(
  tx: Tx,
  ncpdpId: string,
): Promise<{ id: string; ncpdpId: string } | undefined> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM pharmacy_locations
      WHERE tenant_id = scrip_current_tenant() AND ncpdp_id = $1 AND active`,
    [ncpdpId],
  );
  const id = rows[0]?.id;
  return id === undefined ? undefined : { id, ncpdpId };
}

/**
 * The tenant owning an active pharmacy with this NCPDP ID (the dispatcher's Header To → tenant
 * step), or undefined. Looks tenant by tenant under row-level security, as the outbox worker
 * does: an NCPDP ID is unique in the installation, so at most one tenant answers.
 */
export async function pharmacyTenantOf(
  db: Database,
  ncpdpId: string,
): Promise<TenantId | undefined> {
  if (!NCPDP_RE.test(ncpdpId)) return undefined;
  const tenants = await db.withoutTenant(
    async (tx) => (await tx.query<{ id: TenantId }>('SELECT scrip_tenant_ids() AS id')).rows,
  );
  for (const { id } of tenants) {
    const found = await db.withTenant(id, (tx) => locationByNcpdp(tx, ncpdpId));
    if (found !== undefined) return id;
  }
  return undefined;
}
