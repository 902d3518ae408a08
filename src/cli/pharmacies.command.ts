import { readFileSync } from 'node:fs';
import { AppError, asTenantId, isUuid } from '../core/index.js';
import type { Platform } from '../platform.js';
import { printJson } from './output.js';

/**
 * `scrip pharmacies import --tenant ID FILE`: load a directory file (JSON lines, see
 * docs/pharmacy-directory.md) into a tenant's pharmacy directory. Every row is checked first; one
 * bad row refuses the whole file (naming the row and field, never its values); a valid file is
 * upserted by NCPDP ID in one transaction with one audit record.
 */
export async function pharmaciesCommand(
  p: Pick<Platform, 'pharmacies'>,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  const tenant = typeof values.tenant === 'string' ? values.tenant : undefined;
  const file = rest[0];
  if (sub !== 'import' || tenant === undefined || file === undefined) {
    process.stderr.write('usage: scrip pharmacies import --tenant ID FILE\n');
    return 2;
  }
  if (!isUuid(tenant)) throw new AppError('validation_failed', '--tenant must be a tenant id');
  const report = await p.pharmacies.importFile(asTenantId(tenant), readFileSync(file, 'utf8'), {
    kind: 'cli',
  });
  printJson(report);
  return 0;
}
