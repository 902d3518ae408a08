/**
 * `scrip audit export | verify-export | witness-check | prune-plan`. Each function returns the
 * process exit code (0 = done / verified, 1 = a problem was found); main.ts parses arguments,
 * opens the database and builds the export targets (a directory: `DirectoryExportTarget`).
 */
import type { KeyObject } from 'node:crypto';
import {
  checkWitness,
  exportPendingSegments,
  planAuditPrune,
  verifyExport,
  type ExportTarget,
  type RetentionPolicy,
} from '../audit/index.js';
import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { processIo, type CliIo } from './audit.command.js';

export interface AuditExportArgs {
  readonly witness?: ExportTarget;
  readonly maxRecords?: number;
  readonly json?: boolean;
  readonly clock?: Clock;
}

/** `scrip audit export`: seals every pending checkpoint range into `target`. */
export async function auditExportCommand(
  db: Database,
  target: ExportTarget,
  args: AuditExportArgs = {},
  io: CliIo = processIo,
): Promise<number> {
  const report = await exportPendingSegments(db, target, {
    ...(args.witness === undefined ? {} : { witness: args.witness }),
    ...(args.maxRecords === undefined ? {} : { maxRecords: args.maxRecords }),
    ...(args.clock === undefined ? {} : { clock: args.clock }),
  });
  if (args.json === true) {
    io.stdout(`${JSON.stringify(report)}\n`);
  } else {
    io.stdout(
      `exported ${report.segments.length} segments (${report.records} records) to ${target.describe().location}; ` +
        `export reaches ${report.exportedSize}; ${report.witnessed} checkpoints witnessed\n`,
    );
  }
  return 0;
}

/** `scrip audit verify-export`: offline check of an export target (no database). */
export async function auditVerifyExportCommand(
  target: ExportTarget,
  publicKeys: readonly KeyObject[],
  args: { readonly origin?: string; readonly json?: boolean } = {},
  io: CliIo = processIo,
): Promise<number> {
  const report = await verifyExport(
    target,
    publicKeys,
    args.origin === undefined ? {} : { origin: args.origin },
  );
  if (args.json === true) io.stdout(`${JSON.stringify(report)}\n`);
  else if (report.problem === undefined) {
    io.stdout(
      `export OK: ${report.segments} segments, records [${report.fromSize}, ${report.treeSize}) verified\n`,
    );
  } else {
    const p = report.problem;
    io.stdout(`export FAILED at ${p.object}: ${p.kind}: ${p.message}\n`);
  }
  return report.ok ? 0 : 1;
}

/** `scrip audit witness-check`: compares database (and export) with the witness copies. */
export async function auditWitnessCheckCommand(
  db: Database,
  witness: ExportTarget,
  publicKeys: readonly KeyObject[],
  args: { readonly exportTarget?: ExportTarget; readonly json?: boolean } = {},
  io: CliIo = processIo,
): Promise<number> {
  const report = await checkWitness(
    db,
    witness,
    publicKeys,
    args.exportTarget === undefined ? {} : { exportTarget: args.exportTarget },
  );
  if (args.json === true) io.stdout(`${JSON.stringify(report)}\n`);
  else if (report.ok) {
    io.stdout(
      `witness OK: ${report.witnessCheckpoints} checkpoints, database at ${report.databaseSize}\n`,
    );
  } else {
    for (const p of report.problems) io.stdout(`witness FAILED: ${p.kind}: ${p.message}\n`);
  }
  return report.ok ? 0 : 1;
}

/** `scrip audit prune-plan`: dry run only; prints what could be pruned and audits the plan. */
export async function auditPrunePlanCommand(
  db: Database,
  target: ExportTarget,
  policy: RetentionPolicy,
  publicKeys: readonly KeyObject[],
  args: { readonly json?: boolean; readonly clock?: Clock } = {},
  io: CliIo = processIo,
): Promise<number> {
  const plan = await planAuditPrune(db, target, policy, publicKeys, args.clock);
  if (args.json === true) io.stdout(`${JSON.stringify(plan)}\n`);
  else {
    io.stdout(
      `prune plan (dry run, ${plan.retentionYears}-year retention, cutoff ${plan.cutoff.toISOString()}): ` +
        `${plan.segments.length} segments, records below ${plan.throughSize}; stopped: ${plan.stoppedBecause}\n`,
    );
  }
  return 0;
}
