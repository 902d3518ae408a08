/**
 * `scrip evidence …` (issue #9 item 7):
 *   export --tenant T --out DIR     write the signed evidence bundle of tenant T into DIR
 *   verify DIR [--jwks FILE]        check a bundle offline (no database): digests, no extra or
 *                                   missing file, the signature (against FILE's keys when given)
 *   controls --tenant T [--json]    run every live control check now and print the results
 *   restore-drill FILE              decrypt and parse a backup end to end; record the result
 *   daily                           inventory sync and BAA check of every tenant, daily audit verify
 */
import { readFileSync } from 'node:fs';
import { AppError, asTenantId, isAppError, isUuid, type TenantId } from '../core/index.js';
import {
  CLI_ACTOR,
  recordBackupVerification,
  runComplianceJobs,
  verifyEvidenceBundle,
  type BundleVerifyReport,
} from '../compliance/index.js';
import type { Jwks } from '../crypto/jws.js';
import type { Platform } from '../platform.js';
import { processIo, type CliIo } from './audit.command.js';
import { restoreDrillCommand } from './backup.command.js';
import { printJson, printTable } from './output.js';

const USAGE =
  'usage: scrip evidence export --tenant T --out DIR | verify DIR [--jwks FILE] | controls --tenant T [--json] | restore-drill FILE | daily\n';

function tenantArg(values: Record<string, unknown>): TenantId {
  const t = values.tenant;
  if (typeof t !== 'string' || !isUuid(t)) {
    throw new AppError('validation_failed', '--tenant <tenant uuid> is required');
  }
  return asTenantId(t);
}

function readJwks(file: string): Jwks {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as Jwks).keys)) {
      return parsed as Jwks;
    }
  } catch {
    // reported below
  }
  throw new AppError('config_invalid', `${file} is not a JWK Set (RFC 7517 §5)`);
}

/** `scrip evidence verify DIR`: exit 0 when the bundle verifies, 1 naming each bad file. */
export function evidenceVerifyCommand(
  dir: string,
  jwksFile: string | undefined,
  json: boolean,
  io: CliIo = processIo,
): number {
  const report: BundleVerifyReport = verifyEvidenceBundle(
    dir,
    jwksFile === undefined ? {} : { trustedKeys: readJwks(jwksFile) },
  );
  if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  if (report.ok) {
    if (!json) {
      io.stdout(
        `evidence bundle OK: ${String(report.files)} files, signed by ${report.keyId ?? '?'}${report.keyTrusted ? ' (a trusted key)' : ' (key taken from the bundle; pass --jwks to pin it)'}\n`,
      );
    }
    return 0;
  }
  for (const p of report.problems) io.stderr(`evidence bundle FAILED: ${p.file}: ${p.problem}\n`);
  return 1;
}

export async function evidenceCommand(
  p: Platform | undefined,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  if (sub === 'verify') {
    const dir = rest[0];
    if (dir === undefined) throw new AppError('validation_failed', USAGE.trim());
    const jwks = typeof values.jwks === 'string' ? values.jwks : undefined;
    return evidenceVerifyCommand(dir, jwks, values.json === true);
  }
  if (p === undefined) throw new TypeError('evidence command needs the platform');
  switch (sub ?? '') {
    case 'export': {
      const out = typeof values.out === 'string' ? values.out : undefined;
      if (out === undefined) throw new AppError('validation_failed', '--out DIR is required');
      const r = await p.compliance.evidence.export(tenantArg(values), out, CLI_ACTOR);
      process.stdout.write(
        `Evidence bundle written: ${r.dir} (${String(r.files)} files, manifest sha256 ${r.manifestSha256}, key ${r.keyId}; controls ${String(r.controls.passed)} pass / ${String(r.controls.failed)} fail; audit log ${r.auditLogOk ? 'verified' : 'FAILED verification'})\n`,
      );
      return 0;
    }
    case 'controls': {
      const report = await p.compliance.controls.run(tenantArg(values), CLI_ACTOR);
      if (values.json === true) printJson(report);
      else {
        printTable(
          report.controls.map((c) => ({
            control: c.controlId,
            status: c.status,
            details: c.details,
          })),
          ['control', 'status', 'details'],
        );
        process.stdout.write(
          `${String(report.summary.passed)} pass, ${String(report.summary.failed)} fail\n`,
        );
      }
      return 0;
    }
    case 'restore-drill': {
      const file = rest[0];
      if (file === undefined)
        throw new AppError('validation_failed', 'usage: scrip evidence restore-drill FILE');
      try {
        const r = await restoreDrillCommand(p.provider, file);
        await p.db.withoutTenant((tx) =>
          recordBackupVerification(tx, p.clock, {
            kind: 'restore_drill',
            ok: true,
            fileSha256: r.fileSha256,
            tables: r.tables,
            rows: r.rows,
          }),
        );
        process.stdout.write(
          `Restore drill passed: ${r.file} (${String(r.tables)} tables, ${String(r.rows)} rows, sha256 ${r.fileSha256})\n`,
        );
        return 0;
      } catch (err) {
        const code = isAppError(err) ? err.code : 'error';
        await p.db.withoutTenant((tx) =>
          recordBackupVerification(tx, p.clock, { kind: 'restore_drill', ok: false, detail: code }),
        );
        process.stderr.write(`Restore drill FAILED: ${isAppError(err) ? err.message : code}\n`);
        return 1;
      }
    }
    case 'daily': {
      const r = await runComplianceJobs(
        {
          db: p.db,
          clock: p.clock,
          compliance: p.compliance,
          auditKeys: async () => (await p.provider.listSigningKeys()).map((k) => k.publicKey),
          auditOrigin: p.config.SCRIP_AUDIT_ORIGIN,
        },
        (err, tenantId) => {
          process.stderr.write(
            `compliance job failed${tenantId === null ? '' : ` for tenant ${tenantId}`}: ${isAppError(err) ? err.code : 'error'}\n`,
          );
        },
      );
      printJson(r);
      return r.failures === 0 ? 0 : 1;
    }
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}
