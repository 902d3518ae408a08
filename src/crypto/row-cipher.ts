import { AppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { decryptFieldText, encryptField, type DataKey } from './field-cipher.js';
import type { Keyring } from './keyring.js';

/**
 * Encrypts and decrypts the PHI columns of one table row. Every column's ciphertext is bound to
 * tenant, table, column and row id (field-cipher AAD), so a value moved to another row, column
 * or tenant fails with `integrity_error`; a value under a destroyed key reads as shredded.
 */
export interface EncryptedTable {
  readonly table: string;
  readonly columns: readonly string[];
}

export type Plain = Readonly<Record<string, string | null>>;
export type Sealed = Readonly<Record<string, Buffer | null>>;

export const SHREDDED = Symbol('shredded');

export async function sealRow(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  spec: EncryptedTable,
  rowId: string,
  values: Plain,
  key?: DataKey,
): Promise<{ version: number; sealed: Sealed }> {
  const dataKey = key ?? (await keyring.fieldKeyForWrite(tx, tenantId));
  const sealed: Record<string, Buffer | null> = {};
  for (const column of spec.columns) {
    const value = values[column];
    if (value === undefined)
      throw new TypeError(`sealRow: no value given for ${spec.table}.${column}`);
    sealed[column] =
      value === null
        ? null
        : encryptField({ tenantId, table: spec.table, column, rowId }, value, dataKey);
  }
  return { version: dataKey.version, sealed };
}

/** Decrypts a row's sealed columns; returns SHREDDED when its data key was destroyed. */
export async function openRow(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  spec: EncryptedTable,
  rowId: string,
  sealed: Sealed,
): Promise<Plain | typeof SHREDDED> {
  const lookup = (version: number): Promise<DataKey | undefined> =>
    keyring.fieldKey(tx, tenantId, version);
  const out: Record<string, string | null> = {};
  try {
    for (const column of spec.columns) {
      const blob = sealed[column];
      if (blob === undefined)
        throw new TypeError(`openRow: ${spec.table}.${column} was not selected`);
      out[column] =
        blob === null
          ? null
          : await decryptFieldText({ tenantId, table: spec.table, column, rowId }, blob, lookup);
    }
  } catch (err) {
    if (err instanceof AppError && err.code === 'shredded') return SHREDDED;
    throw err;
  }
  return out;
}
