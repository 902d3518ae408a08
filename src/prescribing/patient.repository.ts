import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import {
  lastNameDobIndex,
  mrnIndex,
  usPhoneIndex,
  normalizeDob,
  type BlindIndexKey,
} from '../crypto/blind-index.js';
import type { Keyring } from '../crypto/keyring.js';
import {
  openRow,
  sealRow,
  SHREDDED,
  type EncryptedTable,
  type Plain,
} from '../crypto/row-cipher.js';

/**
 * Patients: demographics are PHI, encrypted in the application before they reach the database
 * (45 CFR 164.312(a)(2)(iv), (e)(2)(ii)); search is by blind index only (last name + date of
 * birth, MRN, phone). Nothing here logs or returns plaintext beyond the caller.
 */
export const PATIENTS: EncryptedTable = {
  table: 'patients',
  columns: ['given_name', 'family_name', 'birth_date', 'mrn', 'phone', 'address', 'identifiers'],
};

export interface PatientInput {
  readonly givenName: string;
  readonly familyName: string;
  readonly birthDate: string;
  readonly mrn?: string | undefined;
  readonly phone?: string | undefined;
  readonly address?: string | undefined;
  readonly identifiers?: readonly { system: string; value: string }[] | undefined;
}

/** A blind-index lookup: last name + date of birth, MRN, or US phone number. */
export type PatientQuery =
  | { readonly by: 'name_dob'; readonly familyName: string; readonly birthDate: string }
  | { readonly by: 'mrn'; readonly mrn: string }
  | { readonly by: 'phone'; readonly phone: string };

export interface Patient extends PatientInput {
  readonly id: string;
  readonly shredded: false;
}

export interface ShreddedPatient {
  readonly id: string;
  readonly shredded: true;
}

interface PatientRow {
  id: string;
  given_name: Buffer;
  family_name: Buffer;
  birth_date: Buffer;
  mrn: Buffer | null;
  phone: Buffer | null;
  address: Buffer | null;
  identifiers: Buffer | null;
}

function sealedColumns(row: PatientRow): Record<string, Buffer | null> {
  const { given_name, family_name, birth_date, mrn, phone, address, identifiers } = row;
  return { given_name, family_name, birth_date, mrn, phone, address, identifiers };
}

const COLUMNS = 'id, given_name, family_name, birth_date, mrn, phone, address, identifiers';

export class PatientRepository {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  async create(tx: Tx, tenantId: TenantId, input: PatientInput): Promise<string> {
    const id = randomUUID();
    const row = await this.#seal(tx, tenantId, id, input);
    await tx.query(
      `INSERT INTO patients (id, tenant_id, dek_version, given_name, family_name, birth_date, mrn, phone, address, identifiers,
                             bi_name_dob, bi_mrn, bi_phone, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
      [id, tenantId, ...row, this.clock.now()],
    );
    return id;
  }

  /** Replaces the demographics of one patient (re-sealed under the current data key). */
  async update(tx: Tx, tenantId: TenantId, id: string, input: PatientInput): Promise<void> {
    const row = await this.#seal(tx, tenantId, id, input);
    const r = await tx.query(
      `UPDATE patients SET dek_version = $2, given_name = $3, family_name = $4, birth_date = $5, mrn = $6, phone = $7,
                           address = $8, identifiers = $9, bi_name_dob = $10, bi_mrn = $11, bi_phone = $12, updated_at = $13
        WHERE id = $1`,
      [id, ...row, this.clock.now()],
    );
    if (r.rowCount !== 1) throw new AppError('not_found', 'no such patient');
  }

  /** dek_version, the seven sealed columns and the three blind indexes, in column order. */
  async #seal(tx: Tx, tenantId: TenantId, id: string, input: PatientInput): Promise<unknown[]> {
    const birthDate = normalizeDob(input.birthDate);
    const index = await this.#indexKey(tx, tenantId);
    const plain: Plain = {
      given_name: input.givenName,
      family_name: input.familyName,
      birth_date: birthDate,
      mrn: input.mrn ?? null,
      phone: input.phone ?? null,
      address: input.address ?? null,
      identifiers: input.identifiers === undefined ? null : JSON.stringify(input.identifiers),
    };
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PATIENTS, id, plain);
    return [
      version,
      sealed.given_name,
      sealed.family_name,
      sealed.birth_date,
      sealed.mrn,
      sealed.phone,
      sealed.address,
      sealed.identifiers,
      lastNameDobIndex(index, input.familyName, birthDate),
      input.mrn === undefined ? null : mrnIndex(index, input.mrn),
      input.phone === undefined ? null : usPhoneIndex(index, input.phone),
    ];
  }

  /** One patient, decrypted; another tenant's id answers not_found exactly like a missing one. */
  async get(tx: Tx, tenantId: TenantId, id: string): Promise<Patient | ShreddedPatient> {
    const { rows } = await tx.query<PatientRow>(`SELECT ${COLUMNS} FROM patients WHERE id = $1`, [
      id,
    ]);
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such patient');
    return this.#open(tx, tenantId, row);
  }

  async findByNameAndDob(
    tx: Tx,
    tenantId: TenantId,
    familyName: string,
    birthDate: string,
  ): Promise<(Patient | ShreddedPatient)[]> {
    const index = await this.#indexKey(tx, tenantId);
    return this.#find(
      tx,
      tenantId,
      'bi_name_dob',
      lastNameDobIndex(index, familyName, normalizeDob(birthDate)),
    );
  }

  async findByMrn(tx: Tx, tenantId: TenantId, mrn: string): Promise<(Patient | ShreddedPatient)[]> {
    return this.#find(tx, tenantId, 'bi_mrn', mrnIndex(await this.#indexKey(tx, tenantId), mrn));
  }

  async findByPhone(
    tx: Tx,
    tenantId: TenantId,
    phone: string,
  ): Promise<(Patient | ShreddedPatient)[]> {
    return this.#find(
      tx,
      tenantId,
      'bi_phone',
      usPhoneIndex(await this.#indexKey(tx, tenantId), phone),
    );
  }

  /**
   * Ids of the patients matching a blind-index query (at most 50), without decrypting anything:
   * callers filter them through PatientAccess first and open only what the user may see.
   */
  async matchIds(tx: Tx, tenantId: TenantId, query: PatientQuery): Promise<string[]> {
    const index = await this.#indexKey(tx, tenantId);
    const [column, value] = ((): ['bi_name_dob' | 'bi_mrn' | 'bi_phone', string] => {
      switch (query.by) {
        case 'name_dob':
          return [
            'bi_name_dob',
            lastNameDobIndex(index, query.familyName, normalizeDob(query.birthDate)),
          ];
        case 'mrn':
          return ['bi_mrn', mrnIndex(index, query.mrn)];
        case 'phone':
          return ['bi_phone', usPhoneIndex(index, query.phone)];
      }
    })();
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM patients WHERE ${column} = $1 ORDER BY id LIMIT 50`,
      [value],
    );
    return rows.map((r) => r.id);
  }

  /** Several patients by id, decrypted, in the order given (missing ids are left out). */
  async getMany(
    tx: Tx,
    tenantId: TenantId,
    ids: readonly string[],
  ): Promise<(Patient | ShreddedPatient)[]> {
    if (ids.length === 0) return [];
    const { rows } = await tx.query<PatientRow>(
      `SELECT ${COLUMNS} FROM patients WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: (Patient | ShreddedPatient)[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (row !== undefined) out.push(await this.#open(tx, tenantId, row));
    }
    return out;
  }

  async #find(
    tx: Tx,
    tenantId: TenantId,
    column: 'bi_name_dob' | 'bi_mrn' | 'bi_phone',
    value: string,
  ): Promise<(Patient | ShreddedPatient)[]> {
    const { rows } = await tx.query<PatientRow>(
      `SELECT ${COLUMNS} FROM patients WHERE ${column} = $1 ORDER BY id LIMIT 50`,
      [value],
    );
    return Promise.all(rows.map((r) => this.#open(tx, tenantId, r)));
  }

  async #indexKey(tx: Tx, tenantId: TenantId): Promise<BlindIndexKey> {
    return { tenantId, key: await this.keyring.indexKey(tx, tenantId) };
  }

  async #open(tx: Tx, tenantId: TenantId, row: PatientRow): Promise<Patient | ShreddedPatient> {
    const plain = await openRow(tx, this.keyring, tenantId, PATIENTS, row.id, sealedColumns(row));
    if (plain === SHREDDED) return { id: row.id, shredded: true };
    const text = (c: string): string => plain[c] ?? '';
    const opt = (c: string): string | undefined => plain[c] ?? undefined;
    const identifiers = plain.identifiers;
    return {
      id: row.id,
      shredded: false,
      givenName: text('given_name'),
      familyName: text('family_name'),
      birthDate: text('birth_date'),
      mrn: opt('mrn'),
      phone: opt('phone'),
      address: opt('address'),
      identifiers:
        identifiers === null || identifiers === undefined
          ? undefined
          : (JSON.parse(identifiers) as { system: string; value: string }[]),
    };
  }
}
