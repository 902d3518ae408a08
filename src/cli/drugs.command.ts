import { AppError, isUuid } from '../core/index.js';
import type { Platform } from '../platform.js';
import { applyDueChanges } from '../prescribing/change-control.service.js';
import { proposeRxNormImport } from '../prescribing/drug-import.js';
import { loadInteractionTable } from '../prescribing/interaction-table.js';
import { printJson, printTable } from './output.js';
import { effectiveDate, requireTenant, signInTenantOperator } from './operator.js';

/**
 * `scrip drugs …`: import an RxNorm release as a catalog change proposal, list, approve or reject
 * proposals, apply the ones that have come due, and check an interaction table. The operator signs
 * in as a Scrip user (`--actor` email, password and TOTP, src/cli/operator.ts) who must hold
 * `catalog.manage` in `--tenant`; the approver must be a different person (two-person rule).
 */
export const DRUGS_USAGE = `usage:
  scrip drugs import --tenant T --actor EMAIL [--effective ISO-DATE] DIR
  scrip drugs proposals --tenant T [--json]
  scrip drugs approve|reject ID --tenant T --actor EMAIL
  scrip drugs apply-due --tenant T
  scrip drugs interactions FILE`;

/** What the drug commands use of the platform (any composition holding these, tests included). */
export type DrugsPlatform = Pick<
  Platform,
  'db' | 'clock' | 'changes' | 'changeAppliers' | 'identity' | 'access'
>;

export async function drugsCommand(
  p: DrugsPlatform,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  switch (sub ?? '') {
    case 'import': {
      const dir = rest[0];
      if (dir === undefined) throw new AppError('validation_failed', DRUGS_USAGE);
      const tenant = requireTenant(values.tenant);
      const effectiveAt = effectiveDate(values.effective);
      const actor = await signInTenantOperator(p, tenant, values.actor, 'catalog.manage');
      const { proposal, release } = await proposeRxNormImport(
        p.changes,
        tenant,
        actor,
        dir,
        effectiveAt,
      );
      process.stdout.write(
        `Proposal ${proposal.id}: ${String(release.drugs.length)} drugs, ${String(release.retire.length)} obsolete, skipped ${String(release.skipped.noIngredients)} without ingredients and ${String(release.skipped.scheduleI)} in Schedule I.\n` +
          `Effective ${proposal.effectiveAt.toISOString()} once another person approves:\n  scrip drugs approve ${proposal.id} --tenant ${tenant} --actor <other pharmacist>\n`,
      );
      return 0;
    }
    case 'proposals': {
      const list = await p.changes.list(requireTenant(values.tenant), { limit: 100, offset: 0 });
      if (values.json === true) printJson(list);
      else
        printTable(
          list.map((x) => ({
            id: x.id,
            kind: x.kind,
            status: x.status,
            effective: x.effectiveAt.toISOString(),
            version: x.appliedVersion === null ? '' : String(x.appliedVersion),
            summary: x.summary,
          })),
          ['id', 'kind', 'status', 'effective', 'version', 'summary'],
        );
      return 0;
    }
    case 'approve':
    case 'reject': {
      const id = rest[0];
      if (id === undefined || !isUuid(id)) throw new AppError('validation_failed', DRUGS_USAGE);
      const tenant = requireTenant(values.tenant);
      const actor = await signInTenantOperator(p, tenant, values.actor, 'catalog.manage');
      const r =
        sub === 'approve'
          ? await p.changes.approve(tenant, actor, id)
          : await p.changes.reject(tenant, actor, id);
      process.stdout.write(
        `Proposal ${r.id}: ${r.status}${r.appliedVersion === null ? '' : ` (catalog version ${String(r.appliedVersion)})`}\n`,
      );
      return 0;
    }
    case 'apply-due': {
      const applied = await applyDueChanges(
        p.db,
        requireTenant(values.tenant),
        p.clock,
        p.changeAppliers,
      );
      process.stdout.write(`Applied ${String(applied.length)} due change(s).\n`);
      for (const id of applied) process.stdout.write(`  ${id}\n`);
      return 0;
    }
    case 'interactions': {
      const file = rest[0];
      if (file === undefined) throw new AppError('validation_failed', DRUGS_USAGE);
      const table = loadInteractionTable(file);
      process.stdout.write(`${String(table.size)} interactions, file is valid.\n`);
      return 0;
    }
    default:
      process.stderr.write(`${DRUGS_USAGE}\n`);
      return 2;
  }
}
