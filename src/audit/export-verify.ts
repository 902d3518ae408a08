/**
 * Offline verification of an export target: no database, only the objects and the log's public
 * key(s). Every segment manifest is read, its records file fetched against the manifest's SHA-256,
 * and {@link verifySegment} checks, in order of tree size: each record hashes to its RFC 9162
 * leaf, the records form the hash chain, the leaves appended to the previous segment's tree give
 * the C2SP signed checkpoint's root, the consistency proof (RFC 9162 §2.1.4) links consecutive
 * checkpoints, and segments are contiguous. The newest segments vanishing together cannot be seen
 * from the export alone; that is what the witness (witness.ts) is for.
 */
import type { KeyObject } from 'node:crypto';
import { isAppError } from '../core/index.js';
import type { ExportTarget } from './export-target.js';
import { createNoteVerifier, isValidKeyName, type NoteVerifier } from './note-keys.js';
import {
  isManifestName,
  parseManifest,
  SEGMENT_PREFIX,
  verifySegment,
  type SegmentChainState,
  type SegmentManifest,
} from './segment-format.js';

export interface ExportVerifyOptions {
  /** Require this log origin (default: the first manifest's). */
  readonly origin?: string;
}

export interface ExportProblem {
  /** `manifest` (unreadable or malformed), `records` (missing or changed file), `segment`. */
  readonly kind: 'manifest' | 'records' | 'segment';
  readonly object: string;
  readonly message: string;
}

export interface ExportVerifyReport {
  readonly ok: boolean;
  readonly segments: number;
  readonly records: number;
  /** First tree size covered (> 0 only if older segments were pruned) and the last one. */
  readonly fromSize: number;
  readonly treeSize: number;
  readonly problem?: ExportProblem;
}

/** Verifiers for `publicKeys` under the checkpoint key name `origin` (tlog-checkpoint convention). */
export function verifiersFor(origin: string, publicKeys: readonly KeyObject[]): NoteVerifier[] {
  if (!isValidKeyName(origin)) return [];
  return publicKeys.map((k) => createNoteVerifier(origin, k));
}

/** One manifest and its verified state; used by the prune planner too. */
export async function loadManifest(target: ExportTarget, name: string): Promise<SegmentManifest> {
  return parseManifest(await target.get(name));
}

/**
 * Verifies every exported segment of `target`; stops at the first problem. `onSegment` sees
 * each verified segment (the prune planner uses it).
 */
export async function verifyExport(
  target: ExportTarget,
  publicKeys: KeyObject | readonly KeyObject[],
  options: ExportVerifyOptions & {
    readonly onSegment?: (m: SegmentManifest, state: SegmentChainState) => void;
  } = {},
): Promise<ExportVerifyReport> {
  const keys: readonly KeyObject[] = Array.isArray(publicKeys)
    ? (publicKeys as readonly KeyObject[])
    : [publicKeys as KeyObject];
  const names = (await target.list(SEGMENT_PREFIX)).filter(isManifestName);
  let state: SegmentChainState | undefined;
  let origin = options.origin;
  let fromSize = 0;
  let records = 0;
  let segments = 0;
  const report = (problem?: ExportProblem): ExportVerifyReport => ({
    ok: problem === undefined,
    segments,
    records,
    fromSize,
    treeSize: state?.size ?? 0,
    ...(problem === undefined ? {} : { problem }),
  });
  for (const name of names) {
    let manifest: SegmentManifest;
    try {
      manifest = await loadManifest(target, name);
    } catch (err) {
      return report({ kind: 'manifest', object: name, message: messageOf(err) });
    }
    origin ??= manifest.origin;
    if (manifest.origin !== origin) {
      return report({ kind: 'manifest', object: name, message: 'manifest is for another log' });
    }
    let recordBytes: Buffer;
    try {
      recordBytes = await target.get(manifest.records.object, { sha256: manifest.records.sha256 });
    } catch (err) {
      return report({ kind: 'records', object: manifest.records.object, message: messageOf(err) });
    }
    try {
      const verifiers = verifiersFor(manifest.origin, keys);
      state = verifySegment(manifest, recordBytes, verifiers, state);
    } catch (err) {
      return report({ kind: 'segment', object: name, message: messageOf(err) });
    }
    if (segments === 0) fromSize = manifest.from;
    segments++;
    records += manifest.to - manifest.from;
    options.onSegment?.(manifest, state);
  }
  return report();
}

function messageOf(err: unknown): string {
  if (isAppError(err)) return err.message;
  throw err;
}
