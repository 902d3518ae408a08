/**
 * Business Associate Agreements (45 CFR 164.308(b)(1), 164.314(a)(2)): parties, effective and
 * expiry dates, permitted uses, the breach-reporting timeline, subcontractor flow-down
 * (164.314(a)(2)(i)(B)), audit rights, and return or destruction at termination
 * (164.314(a)(2)(i)(D) via 164.504(e)(2)(ii)(J)). The signed document is kept sealed with the
 * tenant's data key and its SHA-256 is recorded on the agreement; reading it back checks the
 * digest. A BAA is in force when active, signed (document attached) and within its dates.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { findVendor, requireVendor } from './vendor.service.js';
import {
  auditCompliance,
  checkDate,
  currentRow,
  currentRows,
  historyRows,
  metaOf,
  text,
  utcDay,
  writeVersion,
  type ComplianceActor,
  type VersionMeta,
  type VersionRow,
  type VersionedTable,
} from './versioned-store.js';

/** The sealed BAA documents (in ENCRYPTED_TABLES: rotation and key status visit them). */
export const BAA_DOCUMENTS: EncryptedTable = {
  table: 'compliance_baa_documents',
  columns: ['content'],
};

/** Largest document accepted (the HTTP body limit is usually the tighter bound). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
const MEDIA_TYPE_RE = /^[a-z]+\/[a-z0-9.+-]{1,100}$/;

export interface BaaInput {
  readonly vendorId: string;
  /** The covered entity (or business associate) and the vendor, as named in the agreement. */
  readonly parties: readonly string[];
  readonly effectiveDate: string;
  /** Last day in force (inclusive); null for an agreement without a fixed end. */
  readonly expiryDate: string | null;
  readonly permittedUses: string;
  /** Days within which the vendor must report a breach to us (at most 60, 164.410(b)). */
  readonly breachNoticeDays: number;
  readonly subcontractorFlowDown: boolean;
  readonly auditRights: boolean;
  readonly returnDestruction: string;
}

export interface Baa extends VersionMeta, BaaInput {
  readonly status: 'active' | 'terminated';
  readonly documentId: string | null;
  readonly documentSha256: string | null;
}

export interface BaaDocumentInput {
  readonly bytes: Buffer;
  readonly mediaType: string;
}

export interface BaaDocument {
  readonly id: string;
  readonly baaId: string;
  readonly mediaType: string;
  readonly byteLength: number;
  readonly sha256: string;
  readonly uploadedAt: Date;
  readonly bytes: Buffer;
}

/** Why a vendor has no BAA in force today (or `in_force`). */
export type BaaStanding =
  'in_force' | 'none' | 'expired' | 'terminated' | 'not_yet_effective' | 'unsigned';

export const BAAS: VersionedTable = {
  table: 'compliance_baas',
  columns: [
    'vendor_id',
    'parties',
    'effective_date',
    'expiry_date',
    'permitted_uses',
    'breach_notice_days',
    'subcontractor_flow_down',
    'audit_rights',
    'return_destruction',
    'status',
    'document_id',
    'document_sha256',
  ],
  subject: 'compliance_baa',
  action: 'compliance.baa',
  dates: ['effective_date', 'expiry_date'],
};

interface BaaRow extends VersionRow {
  vendor_id: string;
  parties: string[];
  effective_date: string;
  expiry_date: string | null;
  permitted_uses: string;
  breach_notice_days: number;
  subcontractor_flow_down: boolean;
  audit_rights: boolean;
  return_destruction: string;
  status: 'active' | 'terminated';
  document_id: string | null;
  document_sha256: string | null;
}

const toBaa = (r: BaaRow): Baa => ({
  ...metaOf(r),
  vendorId: r.vendor_id,
  parties: r.parties,
  effectiveDate: r.effective_date,
  expiryDate: r.expiry_date,
  permittedUses: r.permitted_uses,
  breachNoticeDays: r.breach_notice_days,
  subcontractorFlowDown: r.subcontractor_flow_down,
  auditRights: r.audit_rights,
  returnDestruction: r.return_destruction,
  status: r.status,
  documentId: r.document_id,
  documentSha256: r.document_sha256,
});

/** Where a BAA stands on `today` (YYYY-MM-DD, UTC). */
export function standingOf(baa: Baa, today: string): BaaStanding {
  if (baa.status === 'terminated') return 'terminated';
  if (baa.documentSha256 === null) return 'unsigned';
  if (baa.effectiveDate > today) return 'not_yet_effective';
  if (baa.expiryDate !== null && baa.expiryDate < today) return 'expired';
  return 'in_force';
}

/** Every agreement's current version. */
export async function currentBaasTx(tx: Tx): Promise<Baa[]> {
  return (await currentRows<BaaRow>(tx, BAAS)).map(toBaa);
}

/** The vendor's current BAAs (every agreement's latest version), newest effective date first. */
export async function vendorBaas(tx: Tx, vendorId: string): Promise<Baa[]> {
  const rows = await currentRows<BaaRow>(tx, BAAS, 'vendor_id = $1', [vendorId]);
  return rows.map(toBaa).sort((a, b) => b.effectiveDate.localeCompare(a.effectiveDate));
}

/**
 * The vendor's coverage on `today`: a BAA in force, or why there is none (the most telling
 * reason among its agreements: expired beats terminated beats unsigned beats not yet effective).
 */
export async function baaCoverage(
  tx: Tx,
  vendorId: string,
  today: string,
): Promise<{ standing: BaaStanding; baa: Baa | undefined }> {
  const all = await vendorBaas(tx, vendorId);
  const inForce = all.find((b) => standingOf(b, today) === 'in_force');
  if (inForce !== undefined) return { standing: 'in_force', baa: inForce };
  for (const s of ['expired', 'terminated', 'unsigned', 'not_yet_effective'] as const) {
    const b = all.find((x) => standingOf(x, today) === s);
    if (b !== undefined) return { standing: s, baa: b };
  }
  return { standing: 'none', baa: undefined };
}

function baaValues(input: BaaInput) {
  const parties = input.parties.map((p, i) => text(p, `parties/${String(i)}`, 1, 200));
  if (parties.length < 2 || parties.length > 10) {
    throw new AppError('validation_failed', 'a BAA names 2 to 10 parties', { detail: 'parties' });
  }
  const effective = checkDate(input.effectiveDate, 'effectiveDate');
  const expiry = input.expiryDate === null ? null : checkDate(input.expiryDate, 'expiryDate');
  if (expiry !== null && expiry < effective) {
    throw new AppError('validation_failed', 'the BAA expires before it takes effect', {
      detail: 'expiryDate',
    });
  }
  const days = input.breachNoticeDays;
  if (!Number.isInteger(days) || days < 1 || days > 60) {
    // 45 CFR 164.410(b): no later than 60 calendar days after discovery.
    throw new AppError('validation_failed', 'breach notice is 1..60 days', {
      detail: 'breachNoticeDays',
    });
  }
  return {
    parties,
    effective_date: effective,
    expiry_date: expiry,
    permitted_uses: text(input.permittedUses, 'permittedUses', 1, 4000),
    breach_notice_days: days,
    subcontractor_flow_down: input.subcontractorFlowDown,
    audit_rights: input.auditRights,
    return_destruction: text(input.returnDestruction, 'returnDestruction', 1, 2000),
  };
}

const notFound = (): AppError => new AppError('not_found', 'no such BAA');

export class BaaService {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  async list(tenantId: TenantId): Promise<Baa[]> {
    return this.db.withTenant(tenantId, (tx) => this.listTx(tx));
  }

  async listTx(tx: Tx): Promise<Baa[]> {
    return currentBaasTx(tx);
  }

  async get(tenantId: TenantId, id: string): Promise<Baa> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await currentRow<BaaRow>(tx, BAAS, id);
      if (row === undefined) throw notFound();
      return toBaa(row);
    });
  }

  async history(tenantId: TenantId, id: string): Promise<Baa[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await historyRows<BaaRow>(tx, BAAS, id);
      if (rows.length === 0) throw notFound();
      return rows.map(toBaa);
    });
  }

  /** Records an agreement, with its signed document when given (then it can be in force). */
  async create(
    tenantId: TenantId,
    input: BaaInput,
    actor: ComplianceActor,
    document?: BaaDocumentInput,
  ): Promise<Baa> {
    return this.db.withTenant(tenantId, async (tx) => {
      await requireVendor(tx, input.vendorId, 'vendorId');
      const values = baaValues(input);
      const recordId = randomUUID();
      const doc =
        document === undefined
          ? undefined
          : await this.#storeDocument(tx, tenantId, recordId, document, actor);
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        BAAS,
        undefined,
        {
          ...values,
          vendor_id: input.vendorId,
          status: 'active',
          document_id: doc?.id ?? null,
          document_sha256: doc?.sha256 ?? null,
        },
        {
          actor,
          verb: 'create',
          recordId,
          details: {
            vendorId: input.vendorId,
            effectiveDate: values.effective_date,
            expiryDate: values.expiry_date,
            documentSha256: doc?.sha256 ?? null,
          },
        },
      );
      return this.#get(tx, recordId);
    });
  }

  /** Replaces the agreement's terms (a renewal moves the expiry date); the vendor stays. */
  async update(
    tenantId: TenantId,
    id: string,
    input: Omit<BaaInput, 'vendorId'>,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Baa> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<BaaRow>(tx, BAAS, id, true);
      if (prev === undefined) throw notFound();
      if (prev.status === 'terminated') throw new AppError('conflict', 'the BAA is terminated');
      const values = baaValues({ ...input, vendorId: prev.vendor_id });
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        BAAS,
        prev,
        {
          ...values,
          vendor_id: prev.vendor_id,
          status: prev.status,
          document_id: prev.document_id,
          document_sha256: prev.document_sha256,
        },
        {
          actor,
          verb: 'update',
          reason,
          details: { effectiveDate: values.effective_date, expiryDate: values.expiry_date },
        },
      );
      return this.#get(tx, id);
    });
  }

  /** Ends the agreement (it stays on record); the vendor's PHI integrations lose coverage. */
  async terminate(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Baa> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<BaaRow>(tx, BAAS, id, true);
      if (prev === undefined) throw notFound();
      if (prev.status === 'terminated') return toBaa(prev);
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        BAAS,
        prev,
        { ...prev, status: 'terminated' },
        {
          actor,
          verb: 'terminate',
          reason,
          details: { vendorId: prev.vendor_id },
        },
      );
      return this.#get(tx, id);
    });
  }

  /** Attaches (or replaces) the signed document; earlier documents stay on record. */
  async attachDocument(
    tenantId: TenantId,
    id: string,
    document: BaaDocumentInput,
    actor: ComplianceActor,
  ): Promise<Baa> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<BaaRow>(tx, BAAS, id, true);
      if (prev === undefined) throw notFound();
      if (prev.status === 'terminated') throw new AppError('conflict', 'the BAA is terminated');
      const doc = await this.#storeDocument(tx, tenantId, prev.record_id, document, actor);
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        BAAS,
        prev,
        { ...prev, document_id: doc.id, document_sha256: doc.sha256 },
        { actor, verb: 'document_attach', details: { documentSha256: doc.sha256 } },
      );
      return this.#get(tx, id);
    });
  }

  /**
   * The signed document of the BAA's current version, decrypted, its SHA-256 checked against
   * the one recorded (`integrity_error` otherwise). Each read is an audit record.
   */
  async readDocument(tenantId: TenantId, id: string, actor: ComplianceActor): Promise<BaaDocument> {
    return this.db.withTenant(tenantId, async (tx) => {
      const baa = await currentRow<BaaRow>(tx, BAAS, id);
      if (baa === undefined) throw notFound();
      if (baa.document_id === null) throw new AppError('not_found', 'the BAA has no document');
      const { rows } = await tx.query<{
        id: string;
        baa_id: string;
        content: Buffer;
        media_type: string;
        byte_length: number;
        sha256: string;
        uploaded_at: Date;
      }>(
        `SELECT id, baa_id, content, media_type, byte_length, sha256, uploaded_at
           FROM compliance_baa_documents WHERE id = $1`,
        [baa.document_id],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'BAA document vanished');
      const plain = await openRow(tx, this.keyring, tenantId, BAA_DOCUMENTS, row.id, {
        content: row.content,
      });
      if (plain === SHREDDED) throw new AppError('shredded', 'the document was destroyed');
      const bytes = Buffer.from(plain.content ?? '', 'base64');
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (digest !== row.sha256 || digest !== baa.document_sha256) {
        throw new AppError('integrity_error', 'the BAA document does not match its digest');
      }
      await auditCompliance(tx, this.clock, tenantId, actor, 'compliance.baa.document_read', {
        subjects: [{ type: 'compliance_baa', id: baa.record_id }],
        details: { documentSha256: digest },
      });
      return {
        id: row.id,
        baaId: row.baa_id,
        mediaType: row.media_type,
        byteLength: row.byte_length,
        sha256: digest,
        uploadedAt: row.uploaded_at,
        bytes,
      };
    });
  }

  async #storeDocument(
    tx: Tx,
    tenantId: TenantId,
    baaId: string,
    document: BaaDocumentInput,
    actor: ComplianceActor,
  ): Promise<{ id: string; sha256: string }> {
    const size = document.bytes.byteLength;
    if (size < 1 || size > MAX_DOCUMENT_BYTES) {
      throw new AppError('validation_failed', 'the document is empty or too large', {
        detail: 'document',
      });
    }
    if (!MEDIA_TYPE_RE.test(document.mediaType)) {
      throw new AppError('validation_failed', 'bad media type', { detail: 'mediaType' });
    }
    const id = randomUUID();
    const sha256 = createHash('sha256').update(document.bytes).digest('hex');
    // The field cipher seals text: the document is sealed as its base64 form.
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, BAA_DOCUMENTS, id, {
      content: document.bytes.toString('base64'),
    });
    await tx.query(
      `INSERT INTO compliance_baa_documents (id, tenant_id, baa_id, dek_version, content, media_type,
                                             byte_length, sha256, uploaded_at, uploaded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        id,
        tenantId,
        baaId,
        version,
        sealed.content,
        document.mediaType,
        size,
        sha256,
        this.clock.now(),
        actor.kind === 'user' ? actor.userId : actor.kind,
      ],
    );
    return { id, sha256 };
  }

  async #get(tx: Tx, id: string): Promise<Baa> {
    const row = await currentRow<BaaRow>(tx, BAAS, id);
    if (row === undefined) throw new AppError('internal', 'BAA vanished');
    return toBaa(row);
  }
}

/** Today's date for BAA decisions (UTC). */
export function today(clock: Clock): string {
  return utcDay(clock.now());
}

/** The vendor's display name for a refusal reason (never PHI), or its id. */
export async function vendorName(tx: Tx, vendorId: string | null): Promise<string> {
  if (vendorId === null) return 'no vendor';
  const v = await findVendor(tx, vendorId);
  return v === undefined ? vendorId : v.name;
}
