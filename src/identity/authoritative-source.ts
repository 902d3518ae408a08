/**
 * The authoritative-source port used by identity proofing (21 CFR 1311.105(a), NIST SP 800-63A
 * §5.3.3 validation against an authoritative source), and the adapter that answers it from the
 * operator-loaded, signed registry file (stored as platform reference rows, table
 * `registry_records`). Another adapter (a live NPPES or CSA query) implements the same interface.
 */
import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { AppError, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Jwks } from '../crypto/jws.js';
import {
  verifyRegistryFile,
  type DeaRecord,
  type LicenceRecord,
  type NpiRecord,
} from './registry-file.js';

export type Lookup<T> =
  { readonly found: true; readonly record: T; readonly source: string } | { readonly found: false };

export interface AuthoritativeSource {
  lookupNpi(npi: string): Promise<Lookup<NpiRecord>>;
  lookupDea(deaNumber: string): Promise<Lookup<DeaRecord>>;
  lookupLicence(state: string, number: string): Promise<Lookup<LicenceRecord>>;
}

export const licenceKey = (state: string, number: string): string =>
  `${state.toUpperCase()}:${number.toUpperCase()}`;

/** Answers lookups from the imported registry records. */
export class RegistrySource implements AuthoritativeSource {
  constructor(private readonly db: Database) {}

  lookupNpi(npi: string): Promise<Lookup<NpiRecord>> {
    return this.#lookup<NpiRecord>('npi', npi);
  }

  lookupDea(deaNumber: string): Promise<Lookup<DeaRecord>> {
    return this.#lookup<DeaRecord>('dea', deaNumber.toUpperCase());
  }

  lookupLicence(state: string, number: string): Promise<Lookup<LicenceRecord>> {
    return this.#lookup<LicenceRecord>('licence', licenceKey(state, number));
  }

  async #lookup<T>(kind: string, key: string): Promise<Lookup<T>> {
    const row = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ data: T; source: string }>(
        'SELECT data, source FROM registry_records WHERE kind = $1 AND record_key = $2',
        [kind, key],
      );
      return rows[0];
    });
    return row === undefined
      ? { found: false }
      : { found: true, record: row.data, source: row.source };
  }
}

export interface RegistryImportResult {
  readonly importId: string;
  readonly source: string;
  readonly issuedAt: string;
  readonly kid: string;
  readonly npi: number;
  readonly dea: number;
  readonly licences: number;
}

/**
 * Verifies a signed registry file and loads its records (one transaction, outside any tenant).
 * A file of a source is refused unless it is newer than every earlier import of that source, so
 * an old export cannot resurrect a registration that a later one revoked. Records replace those
 * with the same key; records absent from the file are kept (sources are partial exports).
 */
export async function importRegistryFile(
  db: Database,
  clock: Clock,
  text: string,
  key: KeyObject | Jwks,
): Promise<RegistryImportResult> {
  const { payload, kid } = verifyRegistryFile(text, key);
  const importId = randomUUID();
  const sha = createHash('sha256').update(text, 'utf8').digest('hex');
  await db.withoutTenant(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['scrip-registry-import']);
    const latest = await tx.query<{ latest: Date | null }>(
      'SELECT max(issued_at) AS latest FROM registry_imports WHERE source = $1',
      [payload.source],
    );
    const last = latest.rows[0]?.latest ?? null;
    if (last !== null && last.getTime() >= Date.parse(payload.issuedAt)) {
      throw new AppError('conflict', 'a registry file of this source as new or newer is loaded', {
        detail: 'stale',
      });
    }
    const total = payload.npi.length + payload.dea.length + payload.licences.length;
    await tx.query(
      `INSERT INTO registry_imports (id, source, issued_at, file_sha256, signer_kid, records, imported_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [importId, payload.source, payload.issuedAt, sha, kid, total, clock.now()],
    );
    const put = (kind: string, k: string, data: object): Promise<unknown> =>
      upsert(tx, kind, k, payload.source, importId, data);
    for (const r of payload.npi) await put('npi', r.npi, r);
    for (const r of payload.dea) await put('dea', r.deaNumber, r);
    for (const r of payload.licences) await put('licence', licenceKey(r.state, r.number), r);
  });
  return {
    importId,
    source: payload.source,
    issuedAt: payload.issuedAt,
    kid,
    npi: payload.npi.length,
    dea: payload.dea.length,
    licences: payload.licences.length,
  };
}

async function upsert(
  tx: Tx,
  kind: string,
  key: string,
  source: string,
  importId: string,
  data: object,
): Promise<unknown> {
  return tx.query(
    `INSERT INTO registry_records (kind, record_key, source, import_id, data)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (kind, record_key) DO UPDATE
       SET source = EXCLUDED.source, import_id = EXCLUDED.import_id, data = EXCLUDED.data`,
    [kind, key, source, importId, JSON.stringify(data)],
  );
}
