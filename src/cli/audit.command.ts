/**
 * `scrip audit verify | proof | verify-proof`. Each function returns the process exit code
 * (0 = verified / written, 1 = a problem was found or the proof does not verify); main.ts parses
 * arguments and opens the database. `verify-proof` needs no database: a person holding a proof
 * bundle and the log's public key checks it offline.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  consistencyProofBetween,
  inclusionProofFor,
  verifyAuditLog,
  verifyProofBundle,
  type AuditVerifyReport,
} from '../audit/index.js';
import { AppError, isAppError } from '../core/index.js';
import type { Database } from '../db/index.js';

/** Where a command writes; tests capture it. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Reads a PEM (SPKI) public key; a missing or malformed file is `config_invalid`. */
export function readPublicKeyPem(file: string): KeyObject {
  try {
    const key = createPublicKey(readFileSync(file, 'utf8'));
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'ed25519') {
      throw new TypeError('unsupported key type');
    }
    return key;
  } catch (err) {
    throw new AppError('config_invalid', `cannot read a public key (PEM) from ${file}`, {
      cause: err,
    });
  }
}

export interface AuditVerifyArgs {
  /** A PEM public key file; otherwise `publicKeys` (every published platform signing key). */
  readonly publicKeyPemFile?: string;
  readonly publicKeys?: readonly KeyObject[];
  readonly origin?: string;
  readonly json?: boolean;
  readonly batchSize?: number;
  /** Show progress on stderr when the log has more records than this (default 10 000). */
  readonly progressAbove?: number;
  /** Called with the report before printing (the compliance control records every run). */
  readonly onReport?: (report: AuditVerifyReport) => Promise<void>;
}

function describe(report: AuditVerifyReport): string {
  if (report.problem === undefined) {
    return `audit log OK: ${report.records} records, ${report.checkpoints} checkpoints verified, root ${report.rootHash}\n`;
  }
  const p = report.problem;
  return `audit log FAILED at record ${p.seq}: ${p.kind}: ${p.message}\n`;
}

/** `scrip audit verify`: exit 0 on a clean log, 1 on the first problem (printed). */
export async function auditVerifyCommand(
  db: Database,
  args: AuditVerifyArgs,
  io: CliIo = processIo,
): Promise<number> {
  const publicKey =
    args.publicKeyPemFile === undefined
      ? (args.publicKeys ?? [])
      : readPublicKeyPem(args.publicKeyPemFile);
  const above = args.progressAbove ?? 10_000;
  const report = await verifyAuditLog(db, publicKey, {
    ...(args.origin === undefined ? {} : { origin: args.origin }),
    ...(args.batchSize === undefined ? {} : { batchSize: args.batchSize }),
    onProgress: ({ verified, total }) => {
      if (total > above) {
        const pct = Math.floor((verified / total) * 100);
        io.stderr(`audit verify: ${verified}/${total} records (${pct}%)\n`);
      }
    },
  });
  await args.onReport?.(report);
  if (args.json === true) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (report.ok) io.stdout(describe(report));
  else io.stderr(describe(report));
  return report.ok ? 0 : 1;
}

export interface AuditProofArgs {
  /** Inclusion proof for this record ... */
  readonly seq?: number;
  /** ... against the checkpoint of this tree size (default: the latest). */
  readonly treeSize?: number;
  /** Consistency proof between the checkpoints of these sizes. */
  readonly size1?: number;
  readonly size2?: number;
  /** Write the bundle here instead of stdout. */
  readonly out?: string;
}

/** `scrip audit proof`: prints (or writes) an inclusion or consistency proof bundle. */
export async function auditProofCommand(
  db: Database,
  args: AuditProofArgs,
  io: CliIo = processIo,
): Promise<number> {
  let bundle: unknown;
  if (args.seq !== undefined) {
    bundle = await inclusionProofFor(db, args.seq, args.treeSize);
  } else if (args.size1 !== undefined && args.size2 !== undefined) {
    bundle = await consistencyProofBetween(db, args.size1, args.size2);
  } else {
    throw new TypeError('audit proof needs a record seq, or size1 and size2');
  }
  const text = `${JSON.stringify(bundle, null, 2)}\n`;
  if (args.out === undefined) io.stdout(text);
  else {
    writeFileSync(args.out, text, { mode: 0o644 });
    io.stderr(`proof written to ${args.out}\n`);
  }
  return 0;
}

/**
 * `scrip audit verify-proof <file> --public-key <pem>`: checks a proof bundle offline against the
 * published public key. Exit 0 when it verifies, 1 otherwise (with the reason on stderr).
 */
export async function auditVerifyProofCommand(
  file: string,
  publicKeyPemFile: string,
  io: CliIo = processIo,
): Promise<number> {
  const publicKey = readPublicKeyPem(publicKeyPemFile);
  let bundle: unknown;
  try {
    bundle = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    io.stderr(`proof does NOT verify: ${file} is not a readable JSON file\n`);
    return 1;
  }
  try {
    const v = verifyProofBundle(bundle, publicKey);
    io.stdout(
      v.kind === 'inclusion'
        ? `inclusion proof OK: record ${v.leafIndex} is in the log "${v.origin}" of ${v.treeSize} records, root ${v.rootHash.toString('base64')}\n`
        : `consistency proof OK: the log "${v.origin}" of ${v.size2} records extends its first ${v.size1}\n`,
    );
    return 0;
  } catch (err) {
    if (!isAppError(err)) throw err;
    io.stderr(`proof does NOT verify: ${err.message}\n`);
    return 1;
  }
}
