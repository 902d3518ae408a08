import { AppError, asTenantId, isUuid } from '../core/index.js';
import {
  disableStaleAccounts,
  escalateAllOverdueReviews,
  escalateOverdueReviews,
} from '../access/access-ops.js';
import type { Platform } from '../platform.js';
import { printJson, printTable } from './output.js';

const USAGE =
  'usage: scrip access disable-stale --tenant ID [--days N] [--dry-run] [--json] | access escalate-reviews [--tenant ID]\n';

function days(raw: unknown): number {
  if (raw === undefined) return 90;
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new AppError('validation_failed', '--days must be a whole number of days');
  }
  return n;
}

/**
 * `scrip access disable-stale`: disables the tenant's accounts unused for N days (default 90;
 * 45 CFR 164.308(a)(3)(ii)(C)), or with --dry-run only lists them. `scrip access
 * escalate-reviews`: escalates overdue access reviews (one tenant, or all).
 */
export async function accessCommand(
  p: Platform,
  sub: string | undefined,
  values: Record<string, unknown>,
): Promise<number> {
  const tenant = typeof values.tenant === 'string' ? values.tenant : undefined;
  if (tenant !== undefined && !isUuid(tenant)) {
    throw new AppError('validation_failed', '--tenant must be a tenant id');
  }
  switch (sub ?? '') {
    case 'disable-stale': {
      if (tenant === undefined) throw new AppError('validation_failed', USAGE.trim());
      const report = await disableStaleAccounts(
        p.db,
        asTenantId(tenant),
        p.clock,
        days(values.days),
        {
          dryRun: values['dry-run'] === true,
          actor: 'cli',
        },
      );
      const rows = report.accounts.map((a) => ({
        user: a.userId,
        lastActivity: a.lastActivity.toISOString(),
        neverLoggedIn: String(a.neverLoggedIn),
        endedSessions: String(a.endedSessions),
      }));
      if (values.json === true) printJson({ ...report, accounts: rows });
      else {
        process.stdout.write(
          `${report.dryRun ? 'Would disable' : 'Disabled'} ${String(rows.length)} account(s) unused for ${String(report.days)} days (before ${report.cutoff.toISOString()})\n`,
        );
        if (rows.length > 0)
          printTable(rows, ['user', 'lastActivity', 'neverLoggedIn', 'endedSessions']);
      }
      return 0;
    }
    case 'escalate-reviews': {
      if (tenant !== undefined) {
        const list = await escalateOverdueReviews(p.db, p.clock, asTenantId(tenant), 'cli');
        printJson({ escalated: list.map((e) => ({ tenantId: tenant, ...e })), failures: 0 });
        return 0;
      }
      const r = await escalateAllOverdueReviews(p.db, p.clock);
      printJson({ escalated: r.escalated, failures: r.failures.length });
      return r.failures.length === 0 ? 0 : 1;
    }
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}
