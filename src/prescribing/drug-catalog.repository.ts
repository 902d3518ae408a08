import { AppError } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { isRxcui, normalizeNdc, type DeaSchedule, type DoseLimits, type Drug } from './drug.js';

/**
 * Reads of the per-tenant drug catalog (row-level security keeps each tenant to its own rows; every
 * value is a bound parameter). Writes happen only through applied change proposals
 * (catalog-change.applier.ts). Reference data, not PHI.
 */
export interface DrugRow {
  id: string;
  rxcui: string;
  tty: string;
  name: string;
  strength: string | null;
  dose_form: string | null;
  route: string | null;
  ingredients: { rxcui: string; name: string }[];
  ndcs: string[];
  dea_schedule: DeaSchedule | null;
  max_single_dose: string | null;
  max_daily_dose: string | null;
  dose_unit: string | null;
  status: 'active' | 'retired';
  version: number;
  updated_at: Date;
}

export const DRUG_COLUMNS =
  'id, rxcui, tty, name, strength, dose_form, route, ingredients, ndcs, dea_schedule, max_single_dose, max_daily_dose, dose_unit, status, version, updated_at';

function limitsOf(row: DrugRow): DoseLimits | null {
  if (row.dose_unit === null) return null;
  return {
    maxSingleDose: row.max_single_dose === null ? null : Number(row.max_single_dose),
    maxDailyDose: row.max_daily_dose === null ? null : Number(row.max_daily_dose),
    unit: row.dose_unit,
  };
}

export function drugFromRow(row: DrugRow): Drug {
  return {
    id: row.id,
    rxcui: row.rxcui,
    tty: row.tty,
    name: row.name,
    strength: row.strength,
    doseForm: row.dose_form,
    route: row.route,
    ingredients: row.ingredients,
    ndcs: row.ndcs,
    deaSchedule: row.dea_schedule,
    limits: limitsOf(row),
    status: row.status,
    version: row.version,
    updatedAt: row.updated_at,
  };
}

export interface Page<T> {
  readonly items: T[];
  readonly limit: number;
  readonly offset: number;
  readonly hasMore: boolean;
}

export interface SearchOptions {
  readonly limit: number;
  readonly offset: number;
  readonly includeRetired?: boolean;
}

/** Escapes LIKE metacharacters so a prefix matches literally. */
function likePrefix(prefix: string): string {
  return `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A past state of a drug, replaced by catalog version `supersededBy`. */
export interface DrugHistoryEntry {
  readonly version: number;
  readonly supersededBy: number;
  readonly supersededAt: Date;
  readonly state: Record<string, unknown>;
}

export interface CatalogVersion {
  readonly version: number;
  readonly proposalId: string;
  readonly kind: string;
  readonly appliedAt: Date;
  readonly details: Record<string, unknown>;
}

export type FormularyStatus = 'preferred' | 'non_preferred' | 'not_covered';

export interface FormularyEntry {
  readonly rxcui: string;
  readonly status: FormularyStatus;
  readonly notes: string | null;
  readonly version: number;
  readonly effectiveFrom: Date;
}

export const DrugCatalogRepository = {
  /** Name prefix search, case-insensitive, ordered by name then RXCUI, paginated. */
  async searchByPrefix(tx: Tx, prefix: string, options: SearchOptions): Promise<Page<Drug>> {
    const trimmed = prefix.trim();
    if (trimmed === '') throw new AppError('validation_failed', 'a name prefix is required');
    const { rows } = await tx.query<DrugRow>(
      `SELECT ${DRUG_COLUMNS} FROM drugs
        WHERE lower(name) LIKE $1 ESCAPE '\\' AND ($2 OR status = 'active')
        ORDER BY lower(name), rxcui LIMIT $3 OFFSET $4`,
      [likePrefix(trimmed), options.includeRetired === true, options.limit + 1, options.offset],
    );
    return {
      items: rows.slice(0, options.limit).map(drugFromRow),
      limit: options.limit,
      offset: options.offset,
      hasMore: rows.length > options.limit,
    };
  },

  /**
   * Drugs by code: an RXCUI (digits), or an NDC in 11-digit or hyphenated 10-digit form. An
   * 11-digit code is tried as both. Anything else is `validation_failed`.
   */
  async findByCode(tx: Tx, code: string): Promise<Drug[]> {
    const c = code.trim();
    let ndc: string | null = null;
    try {
      ndc = normalizeNdc(c);
    } catch {
      if (!isRxcui(c)) throw new AppError('validation_failed', 'not an RXCUI or NDC');
    }
    const { rows } = await tx.query<DrugRow>(
      `SELECT ${DRUG_COLUMNS} FROM drugs
        WHERE ($1::text IS NOT NULL AND rxcui = $1) OR ($2::text IS NOT NULL AND ndcs @> ARRAY[$2::text])
        ORDER BY rxcui LIMIT 50`,
      [isRxcui(c) ? c : null, ndc],
    );
    return rows.map(drugFromRow);
  },

  /** One drug; another tenant's id answers not_found exactly like a missing one. */
  async get(tx: Tx, id: string): Promise<Drug> {
    const { rows } = await tx.query<DrugRow>(`SELECT ${DRUG_COLUMNS} FROM drugs WHERE id = $1`, [
      id,
    ]);
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such drug');
    return drugFromRow(row);
  },

  async getByRxcui(tx: Tx, rxcui: string): Promise<Drug | undefined> {
    const { rows } = await tx.query<DrugRow>(`SELECT ${DRUG_COLUMNS} FROM drugs WHERE rxcui = $1`, [
      rxcui,
    ]);
    return rows[0] === undefined ? undefined : drugFromRow(rows[0]);
  },

  /** Earlier states of a drug, newest first. */
  async history(tx: Tx, drugId: string): Promise<DrugHistoryEntry[]> {
    const { rows } = await tx.query<{
      version: number;
      superseded_by: number;
      superseded_at: Date;
      state: Record<string, unknown>;
    }>(
      `SELECT version, superseded_by, superseded_at, state FROM drug_history
        WHERE drug_id = $1 ORDER BY superseded_by DESC`,
      [drugId],
    );
    return rows.map((r) => ({
      version: r.version,
      supersededBy: r.superseded_by,
      supersededAt: r.superseded_at,
      state: r.state,
    }));
  },

  async versions(tx: Tx, limit = 100): Promise<CatalogVersion[]> {
    const { rows } = await tx.query<{
      version: number;
      proposal_id: string;
      kind: string;
      applied_at: Date;
      details: Record<string, unknown>;
    }>(
      `SELECT version, proposal_id, kind, applied_at, details FROM catalog_versions
        ORDER BY version DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      version: r.version,
      proposalId: r.proposal_id,
      kind: r.kind,
      appliedAt: r.applied_at,
      details: r.details,
    }));
  },

  /** The formulary in force: the newest version per RXCUI. */
  async formulary(tx: Tx, rxcui?: string): Promise<FormularyEntry[]> {
    const { rows } = await tx.query<{
      rxcui: string;
      status: FormularyStatus;
      notes: string | null;
      version: number;
      effective_from: Date;
    }>(
      `SELECT DISTINCT ON (rxcui) rxcui, status, notes, version, effective_from
         FROM formulary_entries WHERE ($1::text IS NULL OR rxcui = $1)
        ORDER BY rxcui, version DESC`,
      [rxcui ?? null],
    );
    return rows.map((r) => ({
      rxcui: r.rxcui,
      status: r.status,
      notes: r.notes,
      version: r.version,
      effectiveFrom: r.effective_from,
    }));
  },
};
