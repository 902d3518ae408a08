import { AppError } from '../core/index.js';
import { appendAudit, createCheckpoint, type AuditVerifyReport } from '../audit/index.js';
import { AUDIT_VERIFY_FAILED } from '../monitoring/index.js';
import type { Platform } from '../platform.js';
import { checkpointSigner } from '../platform.js';
import { auditProofCommand, auditVerifyCommand, auditVerifyProofCommand } from './audit.command.js';
import {
  auditExportCommand,
  auditPrunePlanCommand,
  auditVerifyExportCommand,
  auditWitnessCheckCommand,
} from './audit-export.command.js';
import { DirectoryExportTarget } from '../audit/directory-export-target.js';
import { retentionPolicy } from '../audit/retention-policy.js';
import { recordAuditVerification } from '../compliance/index.js';

function int(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new AppError('validation_failed', `--${name} must be a whole number`);
  return n;
}

/** `scrip audit …`: verify, proofs, offline proof check, checkpoint now, the public key. */
export async function auditCommand(
  p: Platform | undefined,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  const publicKeyFile = typeof values['public-key'] === 'string' ? values['public-key'] : undefined;
  if (sub === 'verify-proof') {
    const file = rest[0];
    if (file === undefined || publicKeyFile === undefined)
      throw new AppError(
        'validation_failed',
        'usage: scrip audit verify-proof FILE --public-key PEM',
      );
    return auditVerifyProofCommand(file, publicKeyFile);
  }
  if (p === undefined) throw new TypeError('audit command needs the platform');
  switch (sub ?? '') {
    case 'verify': {
      const keys = (await p.provider.listSigningKeys()).map((k) => k.publicKey);
      let outcome: AuditVerifyReport | undefined;
      const code = await auditVerifyCommand(p.db, {
        ...(publicKeyFile === undefined
          ? { publicKeys: keys }
          : { publicKeyPemFile: publicKeyFile }),
        origin: p.config.SCRIP_AUDIT_ORIGIN,
        json: values.json === true,
        // Each run is evidence for the audit-verified control (45 CFR 164.312(b)).
        onReport: (report) => {
          outcome = report;
          return p.db.withoutTenant((tx) => recordAuditVerification(tx, p.clock, report, 'cli'));
        },
      });
      const problem = outcome?.problem;
      // The result is itself evidence (and a failure raises the monitoring alert).
      await p.db.withoutTenant((tx) =>
        appendAudit(
          tx,
          {
            tenantId: null,
            actor: { kind: 'cli' },
            action: code === 0 ? 'audit.verify.passed' : AUDIT_VERIFY_FAILED,
            outcome: code === 0 ? 'success' : 'failure',
            // What the reviewer needs first: how many records, and where and what is wrong.
            details: {
              records: outcome?.records ?? null,
              checkpoints: outcome?.checkpoints ?? null,
              ...(problem === undefined ? {} : { problem: problem.kind, firstBadSeq: problem.seq }),
            },
          },
          p.clock,
        ),
      );
      return code;
    }
    case 'proof': {
      const seq = int(values.seq, 'seq');
      const treeSize = int(values['tree-size'], 'tree-size');
      const size1 = int(values.size1, 'size1');
      const size2 = int(values.size2, 'size2');
      const out = typeof values.out === 'string' ? values.out : undefined;
      if (seq === undefined && (size1 === undefined || size2 === undefined))
        throw new AppError(
          'validation_failed',
          'usage: scrip audit proof --seq N [--tree-size M] | --size1 A --size2 B [--out FILE]',
        );
      return auditProofCommand(p.db, {
        ...(seq === undefined ? {} : { seq }),
        ...(treeSize === undefined ? {} : { treeSize }),
        ...(size1 === undefined ? {} : { size1 }),
        ...(size2 === undefined ? {} : { size2 }),
        ...(out === undefined ? {} : { out }),
      });
    }
    case 'checkpoint': {
      const cp = await createCheckpoint(
        p.db,
        await checkpointSigner(p.signingKeys, p.config.SCRIP_AUDIT_ORIGIN),
        p.config.SCRIP_AUDIT_ORIGIN,
        { clock: p.clock },
      );
      process.stdout.write(
        cp === null
          ? 'No new records since the last checkpoint.\n'
          : `Checkpoint signed at tree size ${String(cp.treeSize)}.\n`,
      );
      return 0;
    }
    case 'export':
    case 'verify-export':
    case 'witness-check':
    case 'prune-plan':
      return exportCommands(p, sub ?? '', values);
    case 'public-key': {
      const active = await p.signingKeys.active();
      process.stdout.write(
        active.publicKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      );
      return 0;
    }
    default:
      process.stderr.write(
        'usage: scrip audit verify|proof|verify-proof|checkpoint|public-key|export|verify-export|witness-check|prune-plan\n',
      );
      return 2;
  }
}

/** Write-once export, its offline verification, the witness check and the retention planner. */
async function exportCommands(
  p: Platform,
  sub: string,
  values: Record<string, unknown>,
): Promise<number> {
  const dir = typeof values.dir === 'string' ? values.dir : p.config.SCRIP_AUDIT_EXPORT_DIR;
  const witnessDir =
    typeof values.witness === 'string' ? values.witness : p.config.SCRIP_AUDIT_WITNESS_DIR;
  const keys = (await p.provider.listSigningKeys()).map((k) => k.publicKey);
  if (dir === undefined)
    throw new AppError('validation_failed', '--dir DIR (or SCRIP_AUDIT_EXPORT_DIR) is required');
  const target = new DirectoryExportTarget(dir);
  const witness = witnessDir === undefined ? undefined : new DirectoryExportTarget(witnessDir);
  switch (sub) {
    case 'export':
      return auditExportCommand(p.db, target, witness === undefined ? {} : { witness });
    case 'verify-export':
      return auditVerifyExportCommand(target, keys, {
        origin: p.config.SCRIP_AUDIT_ORIGIN,
        json: values.json === true,
      });
    case 'witness-check':
      if (witness === undefined)
        throw new AppError(
          'validation_failed',
          '--witness DIR (or SCRIP_AUDIT_WITNESS_DIR) is required',
        );
      return auditWitnessCheckCommand(p.db, witness, keys, {
        exportTarget: target,
        json: values.json === true,
      });
    default:
      return auditPrunePlanCommand(
        p.db,
        target,
        retentionPolicy(p.config.SCRIP_AUDIT_RETENTION_YEARS),
        keys,
        { json: values.json === true, clock: p.clock },
      );
  }
}
