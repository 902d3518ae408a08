/**
 * Incident narrative at rest. Summaries, lessons learned, timeline notes, evidence notes, the
 * breach decision's rationale and the notice content are free text that may describe patients, so they are sealed
 * like every PHI column (ARCHITECTURE "Tenancy and data protection"; 45 CFR 164.312(a)(2)(iv)):
 * AES-256-GCM under the tenant's field key, bound to tenant, table, column and row id. The
 * tables are registered in ENCRYPTED_TABLES (src/platform.ts), so key rotation re-encrypts them
 * and shredding a tenant's key destroys them.
 */
import type { TenantId } from '../core/index.js';
import type { Keyring } from '../crypto/keyring.js';
import {
  openRow,
  sealRow,
  SHREDDED,
  type EncryptedTable,
  type Plain,
  type Sealed,
} from '../crypto/row-cipher.js';
import type { Tx } from '../db/index.js';

export const INCIDENT_VERSIONS_SEALED: EncryptedTable = {
  table: 'compliance_incident_versions',
  columns: ['summary', 'lessons_learned'],
};
export const INCIDENT_TIMELINE_SEALED: EncryptedTable = {
  table: 'compliance_incident_timeline',
  columns: ['text'],
};
export const INCIDENT_EVIDENCE_SEALED: EncryptedTable = {
  table: 'compliance_incident_evidence',
  columns: ['note'],
};
export const BREACH_ASSESSMENTS_SEALED: EncryptedTable = {
  table: 'compliance_breach_assessments',
  columns: ['rationale', 'notice'],
};

/** Every table holding incident narrative (for ENCRYPTED_TABLES). */
export const NARRATIVE_TABLES: readonly EncryptedTable[] = [
  INCIDENT_VERSIONS_SEALED,
  INCIDENT_TIMELINE_SEALED,
  INCIDENT_EVIDENCE_SEALED,
  BREACH_ASSESSMENTS_SEALED,
];

/** What a reader sees of text whose data key was destroyed (crypto-shredding). */
export const DESTROYED_TEXT = '[destroyed with its data key]';

/** Seals and opens the narrative columns of one row. */
export interface Narrative {
  seal(
    tx: Tx,
    tenantId: TenantId,
    spec: EncryptedTable,
    rowId: string,
    values: Plain,
  ): Promise<{ version: number; sealed: Sealed }>;
  open(
    tx: Tx,
    tenantId: TenantId,
    spec: EncryptedTable,
    rowId: string,
    sealed: Sealed,
  ): Promise<Plain>;
}

function withheld(spec: EncryptedTable, sealed: Sealed, text: string): Plain {
  return Object.fromEntries(
    spec.columns.map((c) => [c, sealed[c] === null || sealed[c] === undefined ? null : text]),
  );
}

/** The narrative under the tenant's field key (shredded text reads as {@link DESTROYED_TEXT}). */
export function narrativeCipher(keyring: Keyring): Narrative {
  return {
    seal: (tx, tenantId, spec, rowId, values) =>
      sealRow(tx, keyring, tenantId, spec, rowId, values),
    open: async (tx, tenantId, spec, rowId, sealed) => {
      const plain = await openRow(tx, keyring, tenantId, spec, rowId, sealed);
      return plain === SHREDDED ? withheld(spec, sealed, DESTROYED_TEXT) : plain;
    },
  };
}

/**
 * For readers that need the structure only (program evidence, the periodic checks): nothing is
 * decrypted; a present value reads as '' and an absent one as null. It cannot write.
 */
export const NARRATIVE_WITHHELD: Narrative = {
  seal: () => Promise.reject(new TypeError('the withheld narrative cannot seal')),
  open: (_tx, _tenantId, spec, _rowId, sealed) => Promise.resolve(withheld(spec, sealed, '')),
};

/** The notice content stored as sealed JSON; '' or destroyed text reads as absent. */
export function parseSealedJson(text: string | null | undefined): unknown {
  if (text === null || text === undefined || !text.startsWith('{')) return null;
  return JSON.parse(text) as unknown;
}
