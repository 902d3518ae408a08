import { randomUUID } from 'node:crypto';
import { AppError, type Clock } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { isValidNpi } from '../identity/npi.js';
import { isSpkiPin } from './mtls.js';

/**
 * The pharmacy directory (issue 8): the pharmacies a tenant routes NCPDP SCRIPT messages to,
 * with the transactions each supports and the mutual-TLS endpoint and SPKI pins that
 * authenticate it (45 CFR 164.312(e)(1)). Directory data is not PHI. Every query runs inside the
 * caller's tenant transaction (row-level security); another tenant's pharmacy answers not_found.
 */

/** SCRIPT service levels: NewRx, CancelRx, RxChange, RxRenewal, controlled substances (EPCS). */
export const SERVICE_LEVELS = ['new', 'cancel', 'change', 'renewal', 'controlled'] as const;
export type ServiceLevel = (typeof SERVICE_LEVELS)[number];

export interface PharmacyInput {
  readonly ncpdpId: string;
  readonly npi: string;
  readonly name: string;
  readonly address: {
    readonly line: string;
    readonly city: string;
    readonly state: string;
    readonly zip: string;
  };
  readonly phone: string;
  readonly serviceLevels: readonly ServiceLevel[];
  readonly endpointUrl: string;
  readonly pins: { readonly primary: string; readonly backup?: string };
  readonly active: boolean;
}

export interface Pharmacy extends PharmacyInput {
  readonly id: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

type FieldCheck = (v: unknown) => boolean;
const text =
  (max: number): FieldCheck =>
  (v) =>
    typeof v === 'string' &&
    v.length >= 1 &&
    v.length <= max &&
    v.trim() === v &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(v);
const re =
  (r: RegExp): FieldCheck =>
  (v) =>
    typeof v === 'string' && r.test(v);

function isHttpsUrl(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 2048 || !v.startsWith('https://')) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' && u.username === '' && u.password === '' && u.hash === '';
  } catch {
    return false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[]): string | undefined {
  return Object.keys(o).find((k) => !keys.includes(k));
}

/**
 * Checks an untrusted pharmacy record (API body or directory file row). Returns the first field
 * that fails (a field name, never its value) or the typed input.
 */
export function checkPharmacy(
  v: unknown,
): { ok: true; value: PharmacyInput } | { ok: false; field: string } {
  const bad = (field: string): { ok: false; field: string } => ({ ok: false, field });
  if (!isRecord(v)) return bad('record');
  const extra = onlyKeys(v, [
    'ncpdpId',
    'npi',
    'name',
    'address',
    'phone',
    'serviceLevels',
    'endpointUrl',
    'pins',
    'active',
  ]);
  if (extra !== undefined) return bad('unknown_field');
  if (!re(/^[0-9]{7}$/)(v.ncpdpId)) return bad('ncpdpId');
  if (typeof v.npi !== 'string' || !isValidNpi(v.npi)) return bad('npi');
  if (!text(70)(v.name)) return bad('name');
  const a = v.address;
  if (!isRecord(a) || onlyKeys(a, ['line', 'city', 'state', 'zip']) !== undefined) {
    return bad('address');
  }
  if (!text(40)(a.line)) return bad('address.line');
  if (!text(35)(a.city)) return bad('address.city');
  if (!re(/^[A-Z]{2}$/)(a.state)) return bad('address.state');
  if (!re(/^[0-9]{5}([0-9]{4})?$/)(a.zip)) return bad('address.zip');
  if (!re(/^[0-9]{10}$/)(v.phone)) return bad('phone');
  const levels = v.serviceLevels;
  if (
    !Array.isArray(levels) ||
    levels.length === 0 ||
    !levels.every((l) => (SERVICE_LEVELS as readonly unknown[]).includes(l)) ||
    new Set(levels).size !== levels.length
  ) {
    return bad('serviceLevels');
  }
  if (!isHttpsUrl(v.endpointUrl)) return bad('endpointUrl');
  const pins = v.pins;
  if (!isRecord(pins) || onlyKeys(pins, ['primary', 'backup']) !== undefined) return bad('pins');
  if (typeof pins.primary !== 'string' || !isSpkiPin(pins.primary)) return bad('pins.primary');
  if (
    pins.backup !== undefined &&
    (typeof pins.backup !== 'string' || !isSpkiPin(pins.backup) || pins.backup === pins.primary)
  ) {
    return bad('pins.backup');
  }
  if (v.active !== undefined && typeof v.active !== 'boolean') return bad('active');
  const ordered = SERVICE_LEVELS.filter((l) => (levels as unknown[]).includes(l));
  return {
    ok: true,
    value: {
      ncpdpId: v.ncpdpId as string,
      npi: v.npi,
      name: v.name as string,
      address: {
        line: a.line as string,
        city: a.city as string,
        state: a.state as string,
        zip: a.zip as string,
      },
      phone: v.phone as string,
      serviceLevels: ordered,
      endpointUrl: v.endpointUrl as string,
      pins:
        pins.backup === undefined
          ? { primary: pins.primary }
          : { primary: pins.primary, backup: pins.backup },
      active: v.active ?? true,
    },
  };
}

/** {@link checkPharmacy} that throws `validation_failed` with the failing field as detail. */
export function assertPharmacy(v: unknown): PharmacyInput {
  const r = checkPharmacy(v);
  if (!r.ok) throw new AppError('validation_failed', 'invalid pharmacy', { detail: r.field });
  return r.value;
}

interface Row {
  id: string;
  ncpdp_id: string;
  npi: string;
  name: string;
  address_line: string;
  city: string;
  state: string;
  zip: string;
  phone: string;
  service_levels: string[];
  endpoint_url: string;
  pin_primary: string;
  pin_backup: string | null;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, ncpdp_id, npi, name, address_line, city, state, zip, phone, service_levels,
  endpoint_url, pin_primary, pin_backup, active, created_at, updated_at`;

function fromRow(r: Row): Pharmacy {
  return {
    id: r.id,
    ncpdpId: r.ncpdp_id,
    npi: r.npi,
    name: r.name,
    address: { line: r.address_line, city: r.city, state: r.state, zip: r.zip },
    phone: r.phone,
    serviceLevels: r.service_levels as ServiceLevel[],
    endpointUrl: r.endpoint_url,
    pins:
      r.pin_backup === null
        ? { primary: r.pin_primary }
        : { primary: r.pin_primary, backup: r.pin_backup },
    active: r.active,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function values(p: PharmacyInput): unknown[] {
  return [
    p.ncpdpId,
    p.npi,
    p.name,
    p.address.line,
    p.address.city,
    p.address.state,
    p.address.zip,
    p.phone,
    [...p.serviceLevels],
    p.endpointUrl,
    p.pins.primary,
    p.pins.backup ?? null,
    p.active,
  ];
}

export interface PharmacySearch {
  /** Case-insensitive name prefix. */
  readonly name?: string;
  readonly city?: string;
  /** ZIP prefix (at least 3 digits). */
  readonly zip?: string;
  readonly ncpdpId?: string;
  readonly activeOnly?: boolean;
  readonly limit: number;
  readonly offset: number;
}

function likePrefix(s: string): string {
  return `${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class PharmacyDirectoryRepository {
  constructor(private readonly clock: Clock) {}

  async create(tx: Tx, tenantId: string, p: PharmacyInput): Promise<Pharmacy> {
    const { rows } = await tx.query<Row>(
      `INSERT INTO pharmacies (id, tenant_id, ncpdp_id, npi, name, address_line, city, state, zip, phone,
         service_levels, endpoint_url, pin_primary, pin_backup, active, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
       ON CONFLICT (tenant_id, ncpdp_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [randomUUID(), tenantId, ...values(p), this.clock.now()],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new AppError('conflict', 'a pharmacy with this NCPDP ID exists', { detail: 'ncpdpId' });
    }
    return fromRow(row);
  }

  async update(tx: Tx, id: string, p: PharmacyInput): Promise<Pharmacy> {
    const { rows } = await tx
      .query<Row>(
        `UPDATE pharmacies SET ncpdp_id = $2, npi = $3, name = $4, address_line = $5, city = $6,
         state = $7, zip = $8, phone = $9, service_levels = $10, endpoint_url = $11,
         pin_primary = $12, pin_backup = $13, active = $14, updated_at = $15
       WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, ...values(p), this.clock.now()],
      )
      .catch((err: unknown) => {
        if ((err as { code?: string }).code === '23505') {
          throw new AppError('conflict', 'a pharmacy with this NCPDP ID exists', {
            detail: 'ncpdpId',
          });
        }
        throw err;
      });
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such pharmacy');
    return fromRow(row);
  }

  /** Insert or update by NCPDP ID; `created` tells which. */
  async upsert(
    tx: Tx,
    tenantId: string,
    p: PharmacyInput,
  ): Promise<{ pharmacy: Pharmacy; created: boolean }> {
    const { rows } = await tx.query<Row & { inserted: boolean }>(
      `INSERT INTO pharmacies (id, tenant_id, ncpdp_id, npi, name, address_line, city, state, zip, phone,
         service_levels, endpoint_url, pin_primary, pin_backup, active, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
       ON CONFLICT (tenant_id, ncpdp_id) DO UPDATE SET npi = EXCLUDED.npi, name = EXCLUDED.name,
         address_line = EXCLUDED.address_line, city = EXCLUDED.city, state = EXCLUDED.state,
         zip = EXCLUDED.zip, phone = EXCLUDED.phone, service_levels = EXCLUDED.service_levels,
         endpoint_url = EXCLUDED.endpoint_url, pin_primary = EXCLUDED.pin_primary,
         pin_backup = EXCLUDED.pin_backup, active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
       RETURNING ${COLUMNS}, (xmax = 0) AS inserted`,
      [randomUUID(), tenantId, ...values(p), this.clock.now()],
    );
    const row = rows[0];
    if (row === undefined) throw new TypeError('upsert returned no row');
    return { pharmacy: fromRow(row), created: row.inserted };
  }

  async get(tx: Tx, id: string): Promise<Pharmacy> {
    const { rows } = await tx.query<Row>(`SELECT ${COLUMNS} FROM pharmacies WHERE id = $1`, [id]);
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such pharmacy');
    return fromRow(row);
  }

  async byNcpdpId(tx: Tx, ncpdpId: string): Promise<Pharmacy | undefined> {
    const { rows } = await tx.query<Row>(`SELECT ${COLUMNS} FROM pharmacies WHERE ncpdp_id = $1`, [
      ncpdpId,
    ]);
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  /** The pharmacies among `ncpdpIds` (in no particular order). */
  async byNcpdpIds(tx: Tx, ncpdpIds: readonly string[]): Promise<Pharmacy[]> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM pharmacies WHERE ncpdp_id = ANY($1::text[])`,
      [[...ncpdpIds]],
    );
    return rows.map(fromRow);
  }

  /** One page of matches ordered by name, and the total number of matches. */
  async search(tx: Tx, q: PharmacySearch): Promise<{ items: Pharmacy[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (n: string) => string, value: unknown): void => {
      params.push(value);
      where.push(sql(`$${String(params.length)}`));
    };
    if (q.name !== undefined) add((n) => `lower(name) LIKE ${n}`, likePrefix(q.name));
    if (q.city !== undefined) add((n) => `lower(city) = ${n}`, q.city.toLowerCase());
    if (q.zip !== undefined) add((n) => `zip LIKE ${n}`, likePrefix(q.zip));
    if (q.ncpdpId !== undefined) add((n) => `ncpdp_id = ${n}`, q.ncpdpId);
    if (q.activeOnly === true) where.push('active');
    const filter = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    const total = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pharmacies ${filter}`,
      params,
    );
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM pharmacies ${filter} ORDER BY lower(name), ncpdp_id
       LIMIT $${String(params.length + 1)} OFFSET $${String(params.length + 2)}`,
      [...params, q.limit, q.offset],
    );
    return { items: rows.map(fromRow), total: total.rows[0]?.n ?? 0 };
  }
}
