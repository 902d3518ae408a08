import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import { AppError } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import type {
  DeaScheduleCode,
  Prescription,
  PrescriptionContent,
  PrescriptionKind,
  PrescriptionStatus,
  RecordedFinding,
} from './prescription.types.js';

/**
 * Prescriptions at rest: the clinical body, the safety findings (with override reasons) and the
 * signed JWS are sealed with the tenant's data key (45 CFR 164.312(a)(2)(iv)); ids, status,
 * schedule and timestamps stay clear for the queries. Every query runs under the tenant's RLS.
 */
export const PRESCRIPTIONS: EncryptedTable = {
  table: 'prescriptions',
  columns: ['content', 'safety', 'jws', 'review'],
};

/**
 * SHA-256 over the plaintexts of the sealed columns, each length-prefixed. Frozen by the
 * database once the prescription is signed (migration 0027) and checked on every read, so a
 * rewrite of the sealed columns (even under a newer data key) never reads back as signed.
 */
function sealedDigest(plain: Readonly<Record<string, string | null | undefined>>): Buffer {
  const h = createHash('sha256');
  for (const column of PRESCRIPTIONS.columns) {
    const value = plain[column];
    const bytes = value === null || value === undefined ? null : Buffer.from(value, 'utf8');
    const len = Buffer.alloc(5);
    len.writeUInt8(bytes === null ? 0 : 1, 0);
    len.writeUInt32BE(bytes?.length ?? 0, 1);
    h.update(len);
    if (bytes !== null) h.update(bytes);
  }
  return h.digest();
}

interface Row {
  id: string;
  patient_id: string;
  prescriber_id: string;
  drafted_by: string;
  kind: PrescriptionKind;
  previous_id: string | null;
  dea_schedule: DeaScheduleCode | null;
  status: PrescriptionStatus;
  version: number;
  content: Buffer;
  safety: Buffer | null;
  jws: Buffer | null;
  review: Buffer | null;
  sealed_digest: Buffer | null;
  key_id: string | null;
  ready_at: Date | null;
  signed_at: Date | null;
  error_code: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, patient_id, prescriber_id, drafted_by, kind, previous_id, dea_schedule, status, version,
  content, safety, jws, review, sealed_digest, key_id, ready_at, signed_at, error_code, created_at, updated_at`;

export interface NewPrescription {
  readonly id: string;
  readonly patientId: string;
  readonly prescriberId: string;
  readonly draftedBy: string;
  readonly kind: PrescriptionKind;
  readonly previousId: string | null;
  readonly content: PrescriptionContent;
}

/** Filters of a listing (always within one tenant, usually one patient). */
export interface ListFilter {
  readonly patientId?: string;
  readonly prescriberId?: string;
  readonly statuses?: readonly PrescriptionStatus[];
  readonly controlledOnly?: boolean;
  readonly signedFrom?: Date;
  readonly signedTo?: Date;
  readonly createdFrom?: Date;
  readonly createdTo?: Date;
  readonly limit?: number;
}

export class PrescriptionRepository {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  async insert(tx: Tx, tenantId: TenantId, p: NewPrescription): Promise<void> {
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PRESCRIPTIONS, p.id, {
      content: JSON.stringify(p.content),
      safety: null,
      jws: null,
      review: null,
    });
    const now = this.clock.now();
    await tx.query(
      `INSERT INTO prescriptions (id, tenant_id, patient_id, prescriber_id, drafted_by, kind, previous_id,
                                  dea_schedule, status, version, dek_version, content, created_at, updated_at,
                                  status_changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', 1, $9, $10, $11, $11, $11)`,
      [
        p.id,
        tenantId,
        p.patientId,
        p.prescriberId,
        p.draftedBy,
        p.kind,
        p.previousId,
        p.content.drug.deaSchedule,
        version,
        sealed.content,
        now,
      ],
    );
  }

  /** One prescription, locked for the transaction when `forUpdate`; missing answers not_found. */
  async get(tx: Tx, tenantId: TenantId, id: string, forUpdate = false): Promise<Prescription> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM prescriptions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such prescription');
    return this.#open(tx, tenantId, row);
  }

  /** The patient a prescription belongs to (for the access check before anything is decrypted). */
  async patientOf(tx: Tx, id: string): Promise<string> {
    const { rows } = await tx.query<{ patient_id: string }>(
      'SELECT patient_id FROM prescriptions WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (row === undefined) throw new AppError('not_found', 'no such prescription');
    return row.patient_id;
  }

  async list(tx: Tx, tenantId: TenantId, f: ListFilter): Promise<Prescription[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${String(params.length)}`));
    };
    if (f.patientId !== undefined) add('patient_id = ?', f.patientId);
    if (f.prescriberId !== undefined) add('prescriber_id = ?', f.prescriberId);
    if (f.statuses !== undefined) add('status = ANY(?::text[])', f.statuses);
    if (f.controlledOnly === true) where.push('dea_schedule IS NOT NULL');
    if (f.signedFrom !== undefined) add('signed_at >= ?', f.signedFrom);
    if (f.signedTo !== undefined) add('signed_at < ?', f.signedTo);
    if (f.createdFrom !== undefined) add('created_at >= ?', f.createdFrom);
    if (f.createdTo !== undefined) add('created_at < ?', f.createdTo);
    params.push(f.limit ?? 500);
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM prescriptions ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY created_at, id LIMIT $${String(params.length)}`,
      params,
    );
    return Promise.all(rows.map((r) => this.#open(tx, tenantId, r)));
  }

  /** Rewrites the editable body of an unsigned prescription (and its status, review, findings). */
  async saveUnsigned(
    tx: Tx,
    tenantId: TenantId,
    p: Prescription,
    next: {
      content: PrescriptionContent;
      findings: readonly RecordedFinding[];
      status: 'draft' | 'ready';
      bumpVersion: boolean;
      /** The reviewed-elements digest, when the prescription becomes (or stays) ready. */
      reviewDigest?: string | null;
    },
  ): Promise<void> {
    const review = next.status === 'ready' ? (next.reviewDigest ?? p.reviewDigest) : null;
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PRESCRIPTIONS, p.id, {
      content: JSON.stringify(next.content),
      safety: next.findings.length === 0 ? null : JSON.stringify(next.findings),
      jws: null,
      review,
    });
    const now = this.clock.now();
    await tx.query(
      `UPDATE prescriptions SET dek_version = $2, content = $3, safety = $4, status = $5,
              version = version + $6, dea_schedule = $7, review = $9,
              ready_at = CASE WHEN $5 = 'ready' THEN $8::timestamptz ELSE NULL END,
              status_changed_at = CASE WHEN status = $5 THEN status_changed_at ELSE $8 END,
              updated_at = $8
        WHERE id = $1 AND signed_at IS NULL`,
      [
        p.id,
        version,
        sealed.content,
        sealed.safety,
        next.status,
        next.bumpVersion ? 1 : 0,
        next.content.drug.deaSchedule,
        now,
        sealed.review,
      ],
    );
  }

  /**
   * Sends ready prescriptions back to draft for a new review (the reviewed elements changed
   * under them); the reviewed digest goes with the readiness. Returns the ids moved.
   */
  async backToDraft(tx: Tx, ids: readonly string[], prescriberId: string): Promise<string[]> {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE prescriptions SET status = 'draft', ready_at = NULL, review = NULL, version = version + 1,
              status_changed_at = $2, updated_at = $2
        WHERE id = ANY($1::uuid[]) AND prescriber_id = $3 AND status = 'ready' AND signed_at IS NULL
        RETURNING id`,
      [ids, this.clock.now(), prescriberId],
    );
    return rows.map((r) => r.id);
  }

  /** Stores the signature: the JWS, key id and signing time; the content is sealed again as is. */
  async saveSigned(
    tx: Tx,
    tenantId: TenantId,
    p: Prescription,
    signed: { jws: string; keyId: string; signedAt: Date },
  ): Promise<void> {
    const plain = {
      content: JSON.stringify(p.content),
      safety: p.findings.length === 0 ? null : JSON.stringify(p.findings),
      jws: signed.jws,
      review: p.reviewDigest,
    };
    const { version, sealed } = await sealRow(
      tx,
      this.keyring,
      tenantId,
      PRESCRIPTIONS,
      p.id,
      plain,
    );
    const { rowCount } = await tx.query(
      `UPDATE prescriptions SET dek_version = $2, content = $3, safety = $4, jws = $5, key_id = $6,
              signed_at = $7, signed_by = prescriber_id, status = 'signed', status_changed_at = $7,
              updated_at = $7, review = $9, sealed_digest = $10
        WHERE id = $1 AND status = 'ready' AND version = $8 AND signed_at IS NULL`,
      [
        p.id,
        version,
        sealed.content,
        sealed.safety,
        sealed.jws,
        signed.keyId,
        signed.signedAt,
        p.version,
        sealed.review,
        sealedDigest(plain),
      ],
    );
    if (rowCount !== 1) throw new AppError('conflict', 'the prescription changed while signing');
  }

  /** Moves the delivery status (the immutability trigger allows only these columns to change). */
  async setStatus(
    tx: Tx,
    id: string,
    status: PrescriptionStatus,
    errorCode: string | null = null,
  ): Promise<void> {
    await tx.query(
      `UPDATE prescriptions SET status = $2, error_code = $3, status_changed_at = $4, updated_at = $4
        WHERE id = $1`,
      [id, status, errorCode, this.clock.now()],
    );
  }

  async #open(tx: Tx, tenantId: TenantId, row: Row): Promise<Prescription> {
    const plain = await openRow(tx, this.keyring, tenantId, PRESCRIPTIONS, row.id, {
      content: row.content,
      safety: row.safety,
      jws: row.jws,
      review: row.review,
    });
    if (plain === SHREDDED) throw new AppError('shredded', 'the prescription was destroyed');
    if (row.sealed_digest !== null) {
      const digest = sealedDigest(plain);
      if (
        digest.length !== row.sealed_digest.length ||
        !timingSafeEqual(digest, row.sealed_digest)
      ) {
        throw new AppError('integrity_error', 'the signed prescription does not match its record', {
          detail: 'sealed_digest',
        });
      }
    }
    return {
      id: row.id,
      patientId: row.patient_id,
      prescriberId: row.prescriber_id,
      draftedBy: row.drafted_by,
      kind: row.kind,
      previousId: row.previous_id,
      status: row.status,
      version: row.version,
      deaSchedule: row.dea_schedule,
      content: JSON.parse(plain.content ?? '{}') as PrescriptionContent,
      findings:
        plain.safety === null || plain.safety === undefined
          ? []
          : (JSON.parse(plain.safety) as RecordedFinding[]),
      jws: plain.jws ?? null,
      keyId: row.key_id,
      readyAt: row.ready_at,
      reviewDigest: plain.review ?? null,
      signedAt: row.signed_at,
      errorCode: row.error_code,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
