import { asTenantId, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';

/**
 * The switch's internal tenant (kind `platform`): every switch row lives under it, so FORCE RLS
 * keeps the clinic and pharmacy tenants of a shared installation (the local switch of `scrip
 * serve`) from seeing switch rows, the tenant's data key seals the stored messages, and the
 * switch's audit records carry its id. The id is fixed so that every switch process on one
 * database finds the same tenant without a lookup (a tenant row is only visible in its own
 * context).
 */
export const SWITCH_TENANT_ID: TenantId = asTenantId('5c0a7e11-0000-4000-8000-5377697463a1');

/** Creates the switch tenant when missing (idempotent; safe under concurrent starts). */
export async function ensureSwitchTenant(db: Database): Promise<TenantId> {
  await db.withTenant(SWITCH_TENANT_ID, (tx) =>
    tx.query(
      `INSERT INTO tenants (id, name, kind) VALUES ($1, 'Scrip network switch', 'platform')
       ON CONFLICT (id) DO NOTHING`,
      [SWITCH_TENANT_ID],
    ),
  );
  return SWITCH_TENANT_ID;
}
