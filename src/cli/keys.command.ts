import { AppError, asTenantId, isUuid } from '../core/index.js';
import type { Platform } from '../platform.js';
import { printJson, printTable } from './output.js';
import { signInOperator } from './operator.js';
import { cryptoModuleStatus } from '../crypto/fips.js';

/**
 * `scrip keys …` and `scrip tenants shred`: key status, data-key rotation with a resumable
 * re-encryption job, and dual-controlled operations (request by one administrator, approval by a
 * different one). `--actor` is the administrator's email; they sign in with password and TOTP
 * (src/cli/operator.ts), so the two people are authenticated security administrators.
 */
export interface KeysArgs {
  readonly sub: string | undefined;
  readonly rest: readonly string[];
  readonly json: boolean;
  readonly actor: string | undefined;
  readonly tenant: string | undefined;
  readonly version: string | undefined;
  readonly batch: string | undefined;
}

function requireTenant(tenant: string | undefined): ReturnType<typeof asTenantId> {
  if (tenant === undefined || !isUuid(tenant))
    throw new AppError('validation_failed', '--tenant <tenant uuid> is required');
  return asTenantId(tenant);
}

export async function keysCommand(p: Platform, args: KeysArgs): Promise<number> {
  switch (args.sub ?? '') {
    case 'status': {
      const s = await p.keyAdmin.status();
      if (args.json) {
        printJson(s);
      } else {
        const d = s.provider;
        process.stdout.write(
          `KEK: provider ${d.kind}, version ${String(s.kekVersion)}${d.kind === 'pkcs11' ? `, token ${d.tokenLabel}` : ''}\n`,
        );
        printTable(
          s.tenants.flatMap((t) =>
            t.keys.map((k) => ({
              tenant: t.tenantId,
              purpose: k.purpose,
              version: String(k.version),
              status: k.status,
              kek: k.kekVersion === null ? '-' : String(k.kekVersion),
              age_days: String(k.ageDays),
              rows: String(k.rows),
            })),
          ),
          ['tenant', 'purpose', 'version', 'status', 'kek', 'age_days', 'rows'],
        );
        for (const w of s.warnings) process.stdout.write(`WARNING: ${w}\n`);
        process.stdout.write(`Crypto module: ${(await cryptoModuleStatus()).detail}\n`);
      }
      return 0;
    }
    case 'rotate-dek': {
      const tenantId = requireTenant(args.tenant);
      const { job, resumed } = await p.reencryptor.start(tenantId);
      process.stderr.write(
        `${resumed ? 'Resuming' : 'Started'} re-encryption to data key v${String(job.toVersion)}: ${String(job.rowsDone)}/${String(job.rowsTotal)} rows\n`,
      );
      const batchSize = args.batch === undefined ? undefined : Number.parseInt(args.batch, 10);
      const done = await p.reencryptor.run(tenantId, {
        ...(batchSize === undefined || !Number.isInteger(batchSize) || batchSize < 1
          ? {}
          : { batchSize }),
        onProgress: (j) =>
          process.stderr.write(`progress ${String(j.rowsDone)}/${String(j.rowsTotal)}\n`),
      });
      process.stdout.write(
        `Data key v${String(done.toVersion)} current; ${String(done.rowsDone)} rows re-encrypted; superseded keys destroyed.\n`,
      );
      return 0;
    }
    case 'rotate-kek': {
      const r = await p.keyAdmin.request(
        'rotate_kek',
        {},
        await signInOperator(p, args.actor, 'keys.admin'),
      );
      process.stdout.write(
        `Request ${r.id} (rotate KEK) awaits approval by a second security administrator until ${r.expiresAt.toISOString()}:\n  scrip keys approve ${r.id} --actor <other administrator>\n`,
      );
      return 0;
    }
    case 'destroy-kek': {
      const version = Number.parseInt(args.version ?? '', 10);
      if (!Number.isInteger(version) || version < 1)
        throw new AppError('validation_failed', '--version <KEK version> is required');
      const r = await p.keyAdmin.request(
        'destroy_kek_version',
        { version },
        await signInOperator(p, args.actor, 'keys.admin'),
      );
      process.stdout.write(
        `Request ${r.id} (destroy KEK v${String(version)}) awaits approval: scrip keys approve ${r.id} --actor <other administrator>\n`,
      );
      return 0;
    }
    case 'requests': {
      const list = await p.keyAdmin.list();
      if (args.json) printJson(list);
      else
        printTable(
          list.map((r) => ({
            id: r.id,
            operation: r.operation,
            status: r.status,
            requested_by: r.requestedBy,
            decided_by: r.decidedBy ?? '',
            expires: r.expiresAt.toISOString(),
          })),
          ['id', 'operation', 'status', 'requested_by', 'decided_by', 'expires'],
        );
      return 0;
    }
    case 'approve':
    case 'reject': {
      const id = args.rest[0];
      if (id === undefined)
        throw new AppError(
          'validation_failed',
          `usage: scrip keys ${args.sub} <request id> --actor <administrator>`,
        );
      const r =
        args.sub === 'approve'
          ? await p.keyAdmin.approve(id, await signInOperator(p, args.actor, 'keys.admin'))
          : await p.keyAdmin.reject(id, await signInOperator(p, args.actor, 'keys.admin'));
      process.stdout.write(
        `Request ${r.id}: ${r.status}${r.outcome === null ? '' : ` (${r.outcome})`}\n`,
      );
      return r.status === 'failed' ? 1 : 0;
    }
    case 'rotate-signing': {
      const k = await p.signingKeys.rotate();
      process.stdout.write(`Signing key ${k.keyId} is active; earlier keys stay in the JWKS.\n`);
      return 0;
    }
    default:
      process.stderr.write(
        'usage: scrip keys status|rotate-dek --tenant T|rotate-kek --actor A|destroy-kek --version N --actor A|requests|approve ID --actor B|reject ID --actor B|rotate-signing\n',
      );
      return 2;
  }
}

export async function shredCommand(
  p: Platform,
  tenant: string | undefined,
  actor: string | undefined,
): Promise<number> {
  const tenantId = requireTenant(tenant);
  const r = await p.keyAdmin.request(
    'shred_tenant',
    { tenantId },
    await signInOperator(p, actor, 'keys.admin'),
  );
  process.stdout.write(
    `Request ${r.id} (crypto-shred tenant ${tenantId}) awaits approval by a second security administrator:\n  scrip keys approve ${r.id} --actor <other administrator>\n`,
  );
  return 0;
}
