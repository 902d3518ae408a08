/**
 * Write-once (WORM) export targets for sealed audit segments and witness copies of checkpoints.
 *
 * A target never rewrites: {@link ExportTarget.putOnce} creates an object once and refuses to
 * replace it (SEC Rule 17a-4(f)-style "non-rewriteable, non-erasable" storage is the background;
 * HIPAA itself asks for integrity controls, 45 CFR 164.312(c)(1), and six-year retention of
 * documentation, 164.316(b)(2)(i)). Writing the same bytes again succeeds, so an export that
 * crashed half-way can simply be re-run.
 *
 * Implementations: {@link DirectoryExportTarget} (files created once, fsynced, mode 0444) and
 * {@link S3ExportTarget} (S3 Object Lock in COMPLIANCE mode, conditional PUT with If-None-Match).
 */
import { createHash } from 'node:crypto';
import { AppError } from '../core/index.js';

/** What a target is, for bookkeeping (`key`) and for people (`location`). */
export interface ExportTargetInfo {
  readonly kind: 'directory' | 's3';
  /** Stable identity recorded in `audit_exports.target`, e.g. `directory:/srv/audit`. */
  readonly key: string;
  /** Human-readable location. */
  readonly location: string;
  /** How the target enforces write-once. */
  readonly worm: string;
}

export interface PutOnceOptions {
  /** Lower-case hex SHA-256 of the bytes, computed by the caller before handing them over. */
  readonly sha256: string;
}

export interface GetOptions {
  /** When given, the bytes read must have this lower-case hex SHA-256 (else `integrity_error`). */
  readonly sha256?: string;
}

/** A write-once object store. Names are relative paths of `[A-Za-z0-9._-]` segments joined by `/`. */
export interface ExportTarget {
  /**
   * Stores `bytes` under `name` unless it exists. Identical existing content is success
   * (idempotent re-run); different content is `AppError('conflict')`. `options.sha256` must match
   * `bytes` (`integrity_error` otherwise: the caller's buffer was damaged).
   */
  putOnce(name: string, bytes: Uint8Array, options: PutOnceOptions): Promise<void>;
  /** The object's bytes; `not_found` when absent, `integrity_error` when it fails verification. */
  get(name: string, options?: GetOptions): Promise<Buffer>;
  /** Names starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  describe(): ExportTargetInfo;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Programmer misuse (`TypeError`) unless `name` is a safe relative object name. */
export function assertObjectName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512) {
    throw new TypeError('export object name must be 1..512 characters');
  }
  for (const part of name.split('/')) {
    if (!SEGMENT.test(part) || part === '..' || part.startsWith('.tmp-')) {
      throw new TypeError(`export object name has an invalid segment: ${JSON.stringify(part)}`);
    }
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Checks the caller's digest against the bytes before anything is written. */
export function assertDigest(name: string, bytes: Uint8Array, sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw new TypeError('sha256 must be 64 lower-case hex digits');
  if (sha256Hex(bytes) !== sha256) {
    throw new AppError(
      'integrity_error',
      `export object ${name}: bytes do not match their SHA-256`,
    );
  }
}

/** `integrity_error` unless `bytes` has the expected digest (when one is expected). */
export function verifyRead(name: string, bytes: Buffer, options: GetOptions | undefined): Buffer {
  if (options?.sha256 !== undefined && sha256Hex(bytes) !== options.sha256) {
    throw new AppError('integrity_error', `export object ${name} does not match its SHA-256`);
  }
  return bytes;
}

export function objectConflict(name: string): AppError {
  return new AppError(
    'conflict',
    `export object ${name} already exists with different content; write-once targets never rewrite`,
  );
}
