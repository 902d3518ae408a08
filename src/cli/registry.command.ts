import { readFileSync } from 'node:fs';
import { AppError, asTenantId } from '../core/index.js';
import { CLI_ACTOR } from '../compliance/index.js';
import {
  findExpiringCredentials,
  importRegistryFile,
  loadRegistryPublicKey,
} from '../identity/index.js';
import type { Platform } from '../platform.js';
import { printJson } from './output.js';
import { seedDemo } from './demo-seed.js';

/**
 * `scrip registry import FILE`: verify the signed NPI/DEA/licence registry file against
 * SCRIP_REGISTRY_PUBLIC_KEY_FILE and load its records. `scrip registry expiry [--days N]`: report
 * expired and expiring proofed DEA registrations and licences (and raise their audit alerts);
 * run it daily from cron.
 */
export async function registryCommand(
  p: Platform,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  switch (sub ?? '') {
    case 'import': {
      const file = rest[0];
      const keyFile = p.config.SCRIP_REGISTRY_PUBLIC_KEY_FILE;
      if (file === undefined)
        throw new AppError('validation_failed', 'usage: scrip registry import FILE');
      if (keyFile === undefined) {
        throw new AppError('config_invalid', 'SCRIP_REGISTRY_PUBLIC_KEY_FILE is not set', {
          detail: 'SCRIP_REGISTRY_PUBLIC_KEY_FILE',
        });
      }
      const r = await importRegistryFile(
        p.db,
        p.clock,
        readFileSync(file, 'utf8'),
        loadRegistryPublicKey(keyFile),
      );
      printJson(r);
      return 0;
    }
    case 'expiry': {
      const days = typeof values.days === 'string' ? Number(values.days) : 30;
      if (!Number.isInteger(days) || days < 0 || days > 365) {
        throw new AppError('validation_failed', '--days must be an integer 0..365');
      }
      printJson(await findExpiringCredentials(p.db, p.clock, { withinDays: days }));
      return 0;
    }
    default:
      process.stderr.write('usage: scrip registry import FILE | registry expiry [--days N]\n');
      return 2;
  }
}

/** `scrip demo seed --out FILE` (refused in production). */
export async function demoCommand(
  p: Platform,
  sub: string | undefined,
  values: Record<string, unknown>,
): Promise<number> {
  const out = typeof values.out === 'string' ? values.out : undefined;
  if (sub !== 'seed' || out === undefined) {
    process.stderr.write('usage: scrip demo seed --out FILE\n');
    return 2;
  }
  const r = await seedDemo(p, out, p);
  process.stdout.write(
    `Demo data written to ${r.file} (mode 0600): ${String(r.users.length)} users in ${String(r.tenants.length)} tenants.\n`,
  );
  process.stdout.write(
    `Demo catalog: ${String(r.catalog.drugs)} drugs from demo/rxnorm; prescriptions: ${r.prescriptions.map((x) => x.status).join(', ')}.\n`,
  );
  if (r.network !== undefined) {
    process.stdout.write(
      `Demo network: ${r.network.clinicAddress} and ${r.network.pharmacyAddresses.join(', ')} through the local switch ${r.network.switchUrl} (scrip serve runs it).\n`,
    );
  }
  // The compliance program on the demo clinic: its inventory, and a first run of the controls.
  for (const t of r.tenants) {
    const tenantId = asTenantId(t.id);
    await p.compliance.syncPlatformInventory(tenantId, CLI_ACTOR);
    if (t.kind !== 'clinic') continue;
    const report = await p.compliance.controls.run(tenantId, CLI_ACTOR);
    process.stdout.write(
      `Controls of ${t.name}: ${String(report.summary.passed)} pass, ${String(report.summary.failed)} fail (scrip evidence controls --tenant ${t.id})\n`,
    );
  }
  return 0;
}
