/**
 * Vendors (potential business associates, 45 CFR 164.308(b)(1)) with their risk rating, the
 * security questionnaires sent to them, and the remediation items that follow, each with an
 * owner and a due date. Versioned and audited like every program record.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import {
  checkDate,
  currentRow,
  currentRows,
  historyRows,
  metaOf,
  text,
  writeVersion,
  type ComplianceActor,
  type VersionMeta,
  type VersionRow,
  type VersionedTable,
} from './versioned-store.js';

export const RISK_RATINGS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskRating = (typeof RISK_RATINGS)[number];

export interface VendorInput {
  readonly name: string;
  readonly services: string;
  readonly contact: string;
  readonly riskRating: RiskRating;
  /** Whether the vendor creates, receives, maintains or transmits PHI for the tenant. */
  readonly phiAccess: boolean;
}

export interface Vendor extends VersionMeta, VendorInput {
  readonly status: 'active' | 'retired';
}

export const QUESTIONNAIRE_STATUSES = ['sent', 'received', 'reviewed'] as const;
export type QuestionnaireStatus = (typeof QUESTIONNAIRE_STATUSES)[number];

export interface QuestionnaireInput {
  readonly title: string;
  readonly sentOn: string;
  readonly receivedOn?: string | null | undefined;
  readonly status: QuestionnaireStatus;
  readonly score?: number | null | undefined;
  readonly summary: string;
}

export interface Questionnaire extends VersionMeta {
  readonly vendorId: string;
  readonly title: string;
  readonly sentOn: string;
  readonly receivedOn: string | null;
  readonly status: QuestionnaireStatus;
  readonly score: number | null;
  readonly summary: string;
}

export const REMEDIATION_STATUSES = ['open', 'in_progress', 'done', 'risk_accepted'] as const;
export type RemediationStatus = (typeof REMEDIATION_STATUSES)[number];

export interface RemediationInput {
  readonly questionnaireId?: string | null | undefined;
  readonly title: string;
  readonly owner: string;
  readonly dueDate: string;
  readonly status: RemediationStatus;
  readonly notes: string;
}

export interface RemediationItem extends VersionMeta {
  readonly vendorId: string;
  readonly questionnaireId: string | null;
  readonly title: string;
  readonly owner: string;
  readonly dueDate: string;
  readonly status: RemediationStatus;
  readonly notes: string;
}

export const VENDORS: VersionedTable = {
  table: 'compliance_vendors',
  columns: ['name', 'services', 'contact', 'risk_rating', 'phi_access', 'status'],
  subject: 'compliance_vendor',
  action: 'compliance.vendor',
};

export const QUESTIONNAIRES: VersionedTable = {
  table: 'compliance_questionnaires',
  columns: ['vendor_id', 'title', 'sent_on', 'received_on', 'status', 'score', 'summary'],
  subject: 'compliance_questionnaire',
  action: 'compliance.questionnaire',
  dates: ['sent_on', 'received_on'],
};

export const REMEDIATION_ITEMS: VersionedTable = {
  table: 'compliance_remediation_items',
  columns: ['vendor_id', 'questionnaire_id', 'title', 'owner', 'due_date', 'status', 'notes'],
  subject: 'compliance_remediation',
  action: 'compliance.remediation',
  dates: ['due_date'],
};

interface VendorRow extends VersionRow {
  name: string;
  services: string;
  contact: string;
  risk_rating: RiskRating;
  phi_access: boolean;
  status: 'active' | 'retired';
}

interface QuestionnaireRow extends VersionRow {
  vendor_id: string;
  title: string;
  sent_on: string;
  received_on: string | null;
  status: QuestionnaireStatus;
  score: number | null;
  summary: string;
}

interface RemediationRow extends VersionRow {
  vendor_id: string;
  questionnaire_id: string | null;
  title: string;
  owner: string;
  due_date: string;
  status: RemediationStatus;
  notes: string;
}

const toVendor = (r: VendorRow): Vendor => ({
  ...metaOf(r),
  name: r.name,
  services: r.services,
  contact: r.contact,
  riskRating: r.risk_rating,
  phiAccess: r.phi_access,
  status: r.status,
});

const toQuestionnaire = (r: QuestionnaireRow): Questionnaire => ({
  ...metaOf(r),
  vendorId: r.vendor_id,
  title: r.title,
  sentOn: r.sent_on,
  receivedOn: r.received_on,
  status: r.status,
  score: r.score,
  summary: r.summary,
});

const toRemediation = (r: RemediationRow): RemediationItem => ({
  ...metaOf(r),
  vendorId: r.vendor_id,
  questionnaireId: r.questionnaire_id,
  title: r.title,
  owner: r.owner,
  dueDate: r.due_date,
  status: r.status,
  notes: r.notes,
});

/** The current remediation items (of `vendorId`, or all), in the caller's tenant transaction. */
export async function currentRemediation(tx: Tx, vendorId?: string): Promise<RemediationItem[]> {
  const rows = await currentRows<RemediationRow>(
    tx,
    REMEDIATION_ITEMS,
    '$1::uuid IS NULL OR vendor_id = $1',
    [vendorId ?? null],
  );
  return rows.map(toRemediation);
}

/** The current vendor `id`; `validation_failed` naming `field` when it does not exist here. */
export async function requireVendor(tx: Tx, id: string, field: string): Promise<Vendor> {
  const row = await currentRow<VendorRow>(tx, VENDORS, id);
  if (row?.status !== 'active') {
    throw new AppError('validation_failed', 'no such active vendor', { detail: field });
  }
  return toVendor(row);
}

/** The current version of a vendor (active or retired), or undefined. */
export async function findVendor(tx: Tx, id: string): Promise<Vendor | undefined> {
  const row = await currentRow<VendorRow>(tx, VENDORS, id);
  return row === undefined ? undefined : toVendor(row);
}

function vendorValues(input: VendorInput) {
  if (!(RISK_RATINGS as readonly string[]).includes(input.riskRating)) {
    throw new AppError('validation_failed', 'unknown risk rating', { detail: 'riskRating' });
  }
  return {
    name: text(input.name, 'name', 1, 200),
    services: text(input.services, 'services', 0, 2000),
    contact: text(input.contact, 'contact', 0, 500),
    risk_rating: input.riskRating,
    phi_access: input.phiAccess,
  };
}

function questionnaireValues(input: QuestionnaireInput) {
  if (!(QUESTIONNAIRE_STATUSES as readonly string[]).includes(input.status)) {
    throw new AppError('validation_failed', 'unknown status', { detail: 'status' });
  }
  const score = input.score ?? null;
  if (score !== null && (!Number.isInteger(score) || score < 0 || score > 100)) {
    throw new AppError('validation_failed', 'score is 0..100', { detail: 'score' });
  }
  const received = input.receivedOn ?? null;
  return {
    title: text(input.title, 'title', 1, 200),
    sent_on: checkDate(input.sentOn, 'sentOn'),
    received_on: received === null ? null : checkDate(received, 'receivedOn'),
    status: input.status,
    score,
    summary: text(input.summary, 'summary', 0, 4000),
  };
}

function remediationValues(input: RemediationInput) {
  if (!(REMEDIATION_STATUSES as readonly string[]).includes(input.status)) {
    throw new AppError('validation_failed', 'unknown status', { detail: 'status' });
  }
  return {
    title: text(input.title, 'title', 1, 200),
    owner: text(input.owner, 'owner', 1, 200),
    due_date: checkDate(input.dueDate, 'dueDate'),
    status: input.status,
    notes: text(input.notes, 'notes', 0, 4000),
  };
}

const notFound = (what: string): AppError => new AppError('not_found', `no such ${what}`);

export class VendorService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async list(tenantId: TenantId, includeRetired = false): Promise<Vendor[]> {
    return this.db.withTenant(tenantId, (tx) => this.listTx(tx, includeRetired));
  }

  async listTx(tx: Tx, includeRetired = false): Promise<Vendor[]> {
    const rows = await currentRows<VendorRow>(
      tx,
      VENDORS,
      includeRetired ? 'true' : `status = 'active'`,
    );
    return rows.map(toVendor);
  }

  async get(tenantId: TenantId, id: string): Promise<Vendor> {
    return this.db.withTenant(tenantId, async (tx) => {
      const v = await findVendor(tx, id);
      if (v === undefined) throw notFound('vendor');
      return v;
    });
  }

  async history(tenantId: TenantId, id: string): Promise<Vendor[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await historyRows<VendorRow>(tx, VENDORS, id);
      if (rows.length === 0) throw notFound('vendor');
      return rows.map(toVendor);
    });
  }

  async create(tenantId: TenantId, input: VendorInput, actor: ComplianceActor): Promise<Vendor> {
    return this.db.withTenant(tenantId, async (tx) => {
      const values = vendorValues(input);
      const w = await writeVersion(
        tx,
        this.clock,
        tenantId,
        VENDORS,
        undefined,
        { ...values, status: 'active' },
        {
          actor,
          verb: 'create',
          details: { riskRating: values.risk_rating, phiAccess: values.phi_access },
        },
      );
      return this.#get(tx, w.id);
    });
  }

  async update(
    tenantId: TenantId,
    id: string,
    input: VendorInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Vendor> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<VendorRow>(tx, VENDORS, id, true);
      if (prev === undefined) throw notFound('vendor');
      if (prev.status === 'retired') throw new AppError('conflict', 'the vendor is retired');
      const values = vendorValues(input);
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        VENDORS,
        prev,
        { ...values, status: 'active' },
        {
          actor,
          verb: 'update',
          reason,
          details: { riskRating: values.risk_rating, phiAccess: values.phi_access },
        },
      );
      return this.#get(tx, id);
    });
  }

  async retire(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Vendor> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<VendorRow>(tx, VENDORS, id, true);
      if (prev === undefined) throw notFound('vendor');
      if (prev.status === 'retired') return toVendor(prev);
      const { rows } = await tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM compliance_integrations
          WHERE superseded_at IS NULL AND vendor_id = $1 AND status IN ('enabled', 'suspended')`,
        [prev.record_id],
      );
      if ((rows[0]?.n ?? 0) > 0) {
        throw new AppError('conflict', 'the vendor still has integrations; disable them first', {
          detail: 'vendor_has_integrations',
        });
      }
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        VENDORS,
        prev,
        { ...prev, status: 'retired' },
        {
          actor,
          verb: 'retire',
          reason,
        },
      );
      return this.#get(tx, id);
    });
  }

  async questionnaires(tenantId: TenantId, vendorId?: string): Promise<Questionnaire[]> {
    return this.db.withTenant(tenantId, (tx) => this.questionnairesTx(tx, vendorId));
  }

  async questionnairesTx(tx: Tx, vendorId?: string): Promise<Questionnaire[]> {
    const rows = await currentRows<QuestionnaireRow>(
      tx,
      QUESTIONNAIRES,
      '$1::uuid IS NULL OR vendor_id = $1',
      [vendorId ?? null],
    );
    return rows.map(toQuestionnaire);
  }

  async addQuestionnaire(
    tenantId: TenantId,
    vendorId: string,
    input: QuestionnaireInput,
    actor: ComplianceActor,
  ): Promise<Questionnaire> {
    return this.db.withTenant(tenantId, async (tx) => {
      const vendor = await findVendor(tx, vendorId);
      if (vendor?.status !== 'active') throw notFound('vendor');
      const w = await writeVersion(
        tx,
        this.clock,
        tenantId,
        QUESTIONNAIRES,
        undefined,
        { ...questionnaireValues(input), vendor_id: vendor.id },
        { actor, verb: 'create', details: { vendorId: vendor.id, status: input.status } },
      );
      return this.#questionnaire(tx, w.id);
    });
  }

  async updateQuestionnaire(
    tenantId: TenantId,
    id: string,
    input: QuestionnaireInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Questionnaire> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<QuestionnaireRow>(tx, QUESTIONNAIRES, id, true);
      if (prev === undefined) throw notFound('questionnaire');
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        QUESTIONNAIRES,
        prev,
        { ...questionnaireValues(input), vendor_id: prev.vendor_id },
        { actor, verb: 'update', reason, details: { status: input.status } },
      );
      return this.#questionnaire(tx, id);
    });
  }

  async remediationItems(tenantId: TenantId, vendorId?: string): Promise<RemediationItem[]> {
    return this.db.withTenant(tenantId, (tx) => this.remediationTx(tx, vendorId));
  }

  async remediationTx(tx: Tx, vendorId?: string): Promise<RemediationItem[]> {
    return currentRemediation(tx, vendorId);
  }

  async addRemediation(
    tenantId: TenantId,
    vendorId: string,
    input: RemediationInput,
    actor: ComplianceActor,
  ): Promise<RemediationItem> {
    return this.db.withTenant(tenantId, async (tx) => {
      const vendor = await findVendor(tx, vendorId);
      if (vendor?.status !== 'active') throw notFound('vendor');
      const questionnaireId = await this.#questionnaireOf(tx, vendor.id, input.questionnaireId);
      const w = await writeVersion(
        tx,
        this.clock,
        tenantId,
        REMEDIATION_ITEMS,
        undefined,
        { ...remediationValues(input), vendor_id: vendor.id, questionnaire_id: questionnaireId },
        { actor, verb: 'create', details: { vendorId: vendor.id, dueDate: input.dueDate } },
      );
      return this.#remediation(tx, w.id);
    });
  }

  async updateRemediation(
    tenantId: TenantId,
    id: string,
    input: RemediationInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<RemediationItem> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentRow<RemediationRow>(tx, REMEDIATION_ITEMS, id, true);
      if (prev === undefined) throw notFound('remediation item');
      const questionnaireId = await this.#questionnaireOf(
        tx,
        prev.vendor_id,
        input.questionnaireId,
      );
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        REMEDIATION_ITEMS,
        prev,
        {
          ...remediationValues(input),
          vendor_id: prev.vendor_id,
          questionnaire_id: questionnaireId,
        },
        {
          actor,
          verb: 'update',
          reason,
          details: { status: input.status, dueDate: input.dueDate },
        },
      );
      return this.#remediation(tx, id);
    });
  }

  async #questionnaireOf(
    tx: Tx,
    vendorId: string,
    questionnaireId: string | null | undefined,
  ): Promise<string | null> {
    if (questionnaireId === undefined || questionnaireId === null) return null;
    const q = await currentRow<QuestionnaireRow>(tx, QUESTIONNAIRES, questionnaireId);
    if (q?.vendor_id !== vendorId) {
      throw new AppError('validation_failed', 'no such questionnaire of this vendor', {
        detail: 'questionnaireId',
      });
    }
    return q.record_id;
  }

  async #get(tx: Tx, id: string): Promise<Vendor> {
    const v = await findVendor(tx, id);
    if (v === undefined) throw new AppError('internal', 'vendor vanished');
    return v;
  }

  async #questionnaire(tx: Tx, id: string): Promise<Questionnaire> {
    const r = await currentRow<QuestionnaireRow>(tx, QUESTIONNAIRES, id);
    if (r === undefined) throw new AppError('internal', 'questionnaire vanished');
    return toQuestionnaire(r);
  }

  async #remediation(tx: Tx, id: string): Promise<RemediationItem> {
    const r = await currentRow<RemediationRow>(tx, REMEDIATION_ITEMS, id);
    if (r === undefined) throw new AppError('internal', 'remediation item vanished');
    return toRemediation(r);
  }
}
