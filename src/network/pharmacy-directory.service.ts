import { createHash } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit, type AuditActor } from '../audit/index.js';
import { PHARMACY_DIRECTORY_IMPORT } from '../monitoring/actions.js';
import {
  checkPharmacy,
  PharmacyDirectoryRepository,
  type Pharmacy,
  type PharmacyInput,
  type PharmacySearch,
} from './pharmacy-directory.repository.js';

/**
 * Directory changes with their audit records in the same transaction (45 CFR 164.312(b)), and
 * the all-or-nothing import of a directory file (docs/pharmacy-directory.md): every row is
 * checked before anything is written; one invalid row refuses the whole file, naming the row and
 * field; valid files upsert by NCPDP ID and write one audit record with the counts and the
 * file's SHA-256.
 *
 * People change the directory through change control (a `routing` proposal approved by a second
 * person, pharmacy-directory-change.applier.ts); the direct import here is for internal callers
 * that seed a directory (test harnesses).
 */
export const IMPORT_LIMITS = { bytes: 32 * 1024 * 1024, rows: 100_000 } as const;

export interface ImportReport {
  readonly rows: number;
  readonly created: number;
  readonly updated: number;
  readonly sha256: string;
}

function refuse(row: number, field: string): never {
  throw new AppError('validation_failed', `directory row ${String(row)} is invalid`, {
    detail: `row ${String(row)}: ${field}`,
  });
}

/**
 * Checks directory rows one by one, as a file's lines or a routing proposal's entries are read:
 * each call checks one row (strictly, {@link checkPharmacy}) and refuses the whole set at the first
 * bad row, naming the row and field (never a value), a repeated NCPDP ID or a row past the limit.
 */
export function directoryRowChecker(): (row: number, value: unknown) => PharmacyInput {
  const seen = new Set<string>();
  return (row, value) => {
    if (seen.size >= IMPORT_LIMITS.rows) refuse(row, 'too_many_rows');
    const r = checkPharmacy(value);
    if (!r.ok) refuse(row, r.field);
    if (seen.has(r.value.ncpdpId)) refuse(row, 'duplicate ncpdpId');
    seen.add(r.value.ncpdpId);
    return r.value;
  };
}

/** Parses and checks a JSON-lines directory file; throws naming the first bad row and field. */
export function parseDirectoryFile(content: string): PharmacyInput[] {
  if (Buffer.byteLength(content, 'utf8') > IMPORT_LIMITS.bytes) {
    throw new AppError('payload_too_large', 'directory file too large');
  }
  const out: PharmacyInput[] = [];
  const check = directoryRowChecker();
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    const row = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      refuse(row, 'json');
    }
    out.push(check(row, value));
  }
  if (out.length === 0) throw new AppError('validation_failed', 'directory file has no rows');
  return out;
}

/** Upserts checked rows by NCPDP ID inside the caller's transaction; counts what was new. */
export async function upsertDirectory(
  tx: Tx,
  repository: PharmacyDirectoryRepository,
  tenantId: TenantId,
  rows: readonly PharmacyInput[],
): Promise<{ created: number; updated: number }> {
  let created = 0;
  for (const r of rows) {
    if ((await repository.upsert(tx, tenantId, r)).created) created += 1;
  }
  return { created, updated: rows.length - created };
}

export class PharmacyDirectoryService {
  readonly repository: PharmacyDirectoryRepository;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    this.repository = new PharmacyDirectoryRepository(clock);
  }

  async search(
    tenantId: TenantId,
    q: PharmacySearch,
  ): Promise<{ items: Pharmacy[]; total: number }> {
    return this.db.withTenant(tenantId, (tx) => this.repository.search(tx, q));
  }

  async get(tenantId: TenantId, id: string): Promise<Pharmacy> {
    return this.db.withTenant(tenantId, (tx) => this.repository.get(tx, id));
  }

  async byNcpdpId(tenantId: TenantId, ncpdpId: string): Promise<Pharmacy | undefined> {
    return this.db.withTenant(tenantId, (tx) => this.repository.byNcpdpId(tx, ncpdpId));
  }

  /** `scrip pharmacies import`: the whole file or nothing. */
  async importFile(tenantId: TenantId, content: string, actor: AuditActor): Promise<ImportReport> {
    const rows = parseDirectoryFile(content);
    const sha256 = createHash('sha256').update(content, 'utf8').digest('hex');
    return this.db.withTenant(tenantId, async (tx) => {
      const exists = await tx.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
      if (exists.rowCount !== 1) throw new AppError('not_found', 'no such tenant');
      const counts = await upsertDirectory(tx, this.repository, tenantId, rows);
      const report = { rows: rows.length, ...counts, sha256 };
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: PHARMACY_DIRECTORY_IMPORT,
          outcome: 'success',
          details: { ...report },
        },
        this.clock,
      );
      return report;
    });
  }
}
