import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  checkDirectoryFile,
  proposeDirectoryImport,
} from '../network/pharmacy-directory-change.applier.js';
import type { Platform } from '../platform.js';
import { effectiveDate, requireTenant, signInTenantOperator } from './operator.js';

/**
 * `scrip pharmacies import --tenant T --actor EMAIL [--effective ISO-DATE] FILE`: proposes a
 * directory file (JSON lines, see docs/pharmacy-directory.md) as a `routing` change of the
 * tenant's pharmacy directory. Every row is checked first; one bad row refuses the whole file
 * (naming the row and field, never its values) and proposes nothing. The operator signs in as a
 * Scrip user holding `pharmacies.manage` in the tenant (src/cli/operator.ts); the file takes
 * effect, upserted by NCPDP ID in one transaction, once a different person holding
 * `catalog.manage` approves it and its effective date has come.
 */
export const PHARMACIES_USAGE =
  'usage: scrip pharmacies import --tenant T --actor EMAIL [--effective ISO-DATE] FILE';

export async function pharmaciesCommand(
  p: Pick<Platform, 'identity' | 'access' | 'db' | 'changes'>,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  const file = rest[0];
  if (sub !== 'import' || values.tenant === undefined || file === undefined) {
    process.stderr.write(`${PHARMACIES_USAGE}\n`);
    return 2;
  }
  const tenant = requireTenant(values.tenant);
  const effectiveAt = effectiveDate(values.effective);
  const checked = checkDirectoryFile(basename(file), readFileSync(file, 'utf8'));
  const actor = await signInTenantOperator(p, tenant, values.actor, 'pharmacies.manage');
  const proposal = await proposeDirectoryImport(p.changes, tenant, actor, checked, effectiveAt);
  process.stdout.write(
    `Proposal ${proposal.id}: ${String(checked.rows.length)} pharmacies from ${checked.name} (sha256 ${checked.sha256}).\n` +
      `Effective ${proposal.effectiveAt.toISOString()} once another person holding catalog.manage approves:\n` +
      `  scrip drugs approve ${proposal.id} --tenant ${tenant} --actor <other person>\n`,
  );
  return 0;
}
