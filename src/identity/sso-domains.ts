/**
 * Home-realm discovery: the email domains whose users sign in at a tenant's OpenID Connect IdP.
 *
 * Only the platform operator maps a domain to a tenant (`scrip sso domains`), having verified out
 * of band that the tenant's organisation owns it; no tenant API can, so no tenant can claim
 * another clinic's domain and steer its users to a hostile IdP. A domain names one tenant in the
 * whole installation. The public discovery answer says only whether SSO is offered for a domain,
 * and by which organisation: the same shape for an unknown domain, a tenant without SSO and a
 * tenant whose SSO is disabled.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit, type AuditActor } from '../audit/index.js';

export const SSO_DOMAIN_ADDED = 'sso.domain.added';
export const SSO_DOMAIN_REMOVED = 'sso.domain.removed';

/** RFC 1123 §2.1 host name labels, at least two of them (the migration checks the same). */
const DOMAIN_RE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface SsoDomain {
  readonly domain: string;
  readonly tenantId: TenantId;
  readonly createdAt: Date;
  readonly createdBy: string;
}

export type SsoDiscovery =
  | { readonly sso: false }
  | {
      readonly sso: true;
      readonly tenantId: TenantId;
      /** The tenant's display name, shown on the sign-in button. */
      readonly organisation: string;
      readonly startUrl: string;
    };

/** Lower-cases an email domain (one trailing dot dropped); `validation_failed` when not a host name. */
export function normalizeSsoDomain(input: string): string {
  const d = input.trim().toLowerCase().replace(/\.$/, '');
  if (d.length > 253 || !DOMAIN_RE.test(d)) {
    throw new AppError('validation_failed', 'not an email domain', { detail: 'domain' });
  }
  return d;
}

function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

interface DomainRow {
  domain: string;
  tenant_id: string;
  created_at: Date;
  created_by: string;
}

export class SsoDomainService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Maps `domain` to the tenant (operator only: the CLI). `conflict` when any tenant has it
   * already, `not_found` for an unknown tenant. Audited in the tenant's log.
   */
  async add(
    tenantId: TenantId,
    domain: string,
    createdBy: string,
    actor: AuditActor,
  ): Promise<SsoDomain> {
    const d = normalizeSsoDomain(domain);
    const by = createdBy.trim().slice(0, 100) || 'cli';
    const now = this.clock.now();
    try {
      await this.db.withTenant(tenantId, async (tx) => {
        await tx.query(
          `INSERT INTO sso_domains (domain, tenant_id, created_at, created_by)
           VALUES ($1, $2, $3, $4)`,
          [d, tenantId, now, by],
        );
        await appendAudit(
          tx,
          {
            tenantId,
            actor,
            action: SSO_DOMAIN_ADDED,
            outcome: 'success',
            subjects: [{ type: 'sso_domain', id: d }],
            details: { domain: d, createdBy: by },
          },
          this.clock,
        );
      });
    } catch (err) {
      if (pgCode(err) === '23505') {
        throw new AppError('conflict', 'this domain is already mapped to a tenant', {
          detail: 'domain',
        });
      }
      if (pgCode(err) === '23503') throw new AppError('not_found', 'no such tenant');
      throw err;
    }
    return { domain: d, tenantId, createdAt: now, createdBy: by };
  }

  /** Removes the tenant's mapping of `domain`; `not_found` when the tenant does not have it. */
  async remove(tenantId: TenantId, domain: string, actor: AuditActor): Promise<void> {
    const d = normalizeSsoDomain(domain);
    await this.db.withTenant(tenantId, async (tx) => {
      const { rowCount } = await tx.query(
        'DELETE FROM sso_domains WHERE domain = $1 AND tenant_id = $2',
        [d, tenantId],
      );
      if (rowCount !== 1) throw new AppError('not_found', 'the tenant has no such domain');
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: SSO_DOMAIN_REMOVED,
          outcome: 'success',
          subjects: [{ type: 'sso_domain', id: d }],
          details: { domain: d },
        },
        this.clock,
      );
    });
  }

  /** The tenant's domains, sorted. */
  async list(tenantId: TenantId): Promise<SsoDomain[]> {
    return this.db.withTenant(tenantId, (tx) => this.listIn(tx, tenantId));
  }

  async listIn(tx: Tx, tenantId: TenantId): Promise<SsoDomain[]> {
    const { rows } = await tx.query<DomainRow>(
      `SELECT domain, tenant_id, created_at, created_by FROM sso_domains
        WHERE tenant_id = $1 ORDER BY domain`,
      [tenantId],
    );
    return rows.map((r) => ({
      domain: r.domain,
      tenantId: r.tenant_id as TenantId,
      createdAt: r.created_at,
      createdBy: r.created_by,
    }));
  }

  /**
   * Public home-realm discovery for one email domain (never the full address): SSO is offered
   * only when the domain is mapped, the tenant is active and its IdP configuration is enabled.
   */
  async discover(domain: string): Promise<SsoDiscovery> {
    const d = normalizeSsoDomain(domain);
    const tenant = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string | null }>(
        'SELECT scrip_sso_domain_tenant($1) AS t',
        [d],
      );
      return rows[0]?.t ?? undefined;
    });
    if (tenant === undefined) return { sso: false };
    const tenantId = tenant as TenantId;
    const name = await this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ name: string }>(
        `SELECT t.name FROM tenants t JOIN sso_providers p ON p.tenant_id = t.id
          WHERE t.id = $1 AND t.status = 'active' AND p.enabled`,
        [tenantId],
      );
      return rows[0]?.name;
    });
    if (name === undefined) return { sso: false };
    return {
      sso: true,
      tenantId,
      organisation: name,
      startUrl: `/api/v1/auth/sso/${tenantId}/start`,
    };
  }
}
