/**
 * Per-tenant settings of the access operations, kept in `tenant_settings`: how long a JIT grant
 * may last, and the break-glass time box and whether it allows writes (45 CFR 164.312(a)(2)(ii)
 * emergency access procedure: read-only unless the tenant's policy says otherwise). Secure
 * defaults apply while nothing is stored; a change is audited (45 CFR 164.312(b)).
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { RequestMeta } from '../identity/index.js';
import { ACCESS_SETTINGS_CHANGE } from '../monitoring/actions.js';
import { auditAccess, type AccessActor } from './access-audit.js';

export interface AccessSettings {
  /** Longest JIT grant an approver can make, in minutes (1..10080; default 480). */
  readonly grantMaxMinutes: number;
  /** Break-glass time box in minutes (1..240; default 60). */
  readonly breakGlassMinutes: number;
  /** Whether a break-glass session may write (default false: read-only). */
  readonly breakGlassWriteAllowed: boolean;
}

export const DEFAULT_ACCESS_SETTINGS: AccessSettings = {
  grantMaxMinutes: 480,
  breakGlassMinutes: 60,
  breakGlassWriteAllowed: false,
};

/** Hard upper bounds no tenant setting may pass. */
export const GRANT_MAX_MINUTES = 10_080;
export const BREAK_GLASS_MAX_MINUTES = 240;

const KEY = 'access.operations';

function isMinutes(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max;
}

/** Validates a partial change; a bad value is `validation_failed` naming the key. */
export function checkAccessSettings(input: Readonly<Record<string, unknown>>): AccessSettings {
  const merged = { ...DEFAULT_ACCESS_SETTINGS, ...input };
  for (const key of Object.keys(input)) {
    if (!(key in DEFAULT_ACCESS_SETTINGS)) {
      throw new AppError('validation_failed', `unknown setting ${key}`, { detail: key });
    }
  }
  if (!isMinutes(merged.grantMaxMinutes, GRANT_MAX_MINUTES)) {
    throw new AppError('validation_failed', 'bad grantMaxMinutes', { detail: 'grantMaxMinutes' });
  }
  if (!isMinutes(merged.breakGlassMinutes, BREAK_GLASS_MAX_MINUTES)) {
    throw new AppError('validation_failed', 'bad breakGlassMinutes', {
      detail: 'breakGlassMinutes',
    });
  }
  if (typeof merged.breakGlassWriteAllowed !== 'boolean') {
    throw new AppError('validation_failed', 'bad breakGlassWriteAllowed', {
      detail: 'breakGlassWriteAllowed',
    });
  }
  return {
    grantMaxMinutes: merged.grantMaxMinutes,
    breakGlassMinutes: merged.breakGlassMinutes,
    breakGlassWriteAllowed: merged.breakGlassWriteAllowed,
  };
}

/** The settings of the tenant whose context `tx` is in (defaults for anything not stored). */
export async function accessSettings(tx: Tx, tenantId: TenantId): Promise<AccessSettings> {
  const { rows } = await tx.query<{ value: unknown }>(
    'SELECT value FROM tenant_settings WHERE tenant_id = $1 AND key = $2',
    [tenantId, KEY],
  );
  const stored = rows[0]?.value;
  if (typeof stored !== 'object' || stored === null) return DEFAULT_ACCESS_SETTINGS;
  try {
    return checkAccessSettings(stored as Record<string, unknown>);
  } catch {
    // A stored value that no longer validates falls back to the secure defaults.
    return DEFAULT_ACCESS_SETTINGS;
  }
}

/** Changes some settings of `tenantId`; audited with the old and new values. */
export async function updateAccessSettings(
  db: Database,
  clock: Clock,
  tenantId: TenantId,
  actor: AccessActor,
  change: Readonly<Record<string, unknown>>,
  meta?: RequestMeta,
): Promise<AccessSettings> {
  return db.withTenant(tenantId, async (tx) => {
    const before = await accessSettings(tx, tenantId);
    const next = checkAccessSettings({ ...before, ...change });
    await tx.query(
      `INSERT INTO tenant_settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [tenantId, KEY, JSON.stringify(next), clock.now()],
    );
    await auditAccess(tx, clock, {
      tenantId,
      actor,
      action: ACCESS_SETTINGS_CHANGE,
      outcome: 'success',
      details: {
        grantMaxMinutes: next.grantMaxMinutes,
        breakGlassMinutes: next.breakGlassMinutes,
        breakGlassWriteAllowed: next.breakGlassWriteAllowed,
        previousWriteAllowed: before.breakGlassWriteAllowed,
      },
      meta,
    });
    return next;
  });
}
