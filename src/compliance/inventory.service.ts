/**
 * The system inventory and its data flows (45 CFR 164.308(a)(1)(ii)(A): the risk analysis starts
 * from where ePHI is created, received, maintained or transmitted; 164.310(d)(2)(iii)
 * accountability). Assets carry an owner and a PHI classification; data flows name source and
 * destination assets, the PHI categories they carry, transport and encryption, and the vendor.
 * Every change is a new version (nothing is deleted) with its audit record, and calls the
 * {@link InventoryChangePort} so the risk register can open reassessments.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { requireVendor } from './vendor.service.js';
import {
  currentRow,
  currentRows,
  historyRows,
  text,
  writeVersion,
  type ComplianceActor,
} from './versioned-store.js';
import {
  ASSETS,
  ASSET_KINDS,
  DATA_FLOWS,
  noInventoryChanges,
  PHI_CLASSIFICATIONS,
  toAsset,
  toFlow,
  type Asset,
  type AssetInput,
  type AssetRow,
  type Attributes,
  type AttributeValue,
  type DataFlow,
  type DataFlowInput,
  type FlowRow,
  type InventoryChangePort,
  type InventoryRef,
} from './inventory.model.js';

export {
  ASSETS,
  ASSET_KINDS,
  DATA_FLOWS,
  noInventoryChanges,
  PHI_CLASSIFICATIONS,
  type Asset,
  type AssetInput,
  type AssetKind,
  type Attributes,
  type AttributeValue,
  type DataFlow,
  type DataFlowInput,
  type InventoryChangeCause,
  type InventoryChangePort,
  type InventoryRef,
  type PhiClassification,
} from './inventory.model.js';

const CATEGORY_RE = /^[a-z][a-z0-9_]{0,49}$/;
const ATTRIBUTE_KEY_RE = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;

function checkAttributes(attributes: Attributes | undefined): Attributes {
  const out: Record<string, AttributeValue> = {};
  const entries = Object.entries(attributes ?? {});
  if (entries.length > 32) throw new AppError('validation_failed', 'at most 32 attributes');
  for (const [k, v] of entries) {
    if (!ATTRIBUTE_KEY_RE.test(k)) {
      throw new AppError('validation_failed', 'bad attribute name', { detail: `attributes.${k}` });
    }
    out[k] = typeof v === 'string' ? text(v, `attributes.${k}`, 0, 500) : v;
  }
  return out;
}

function notFound(what: string): AppError {
  return new AppError('not_found', `no such ${what}`);
}

/** The inventory's reads and writes; `*Tx` forms run inside a caller's tenant transaction. */
export class InventoryService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly changes: InventoryChangePort = noInventoryChanges,
  ) {}

  async listAssets(tenantId: TenantId, includeRetired = false): Promise<Asset[]> {
    return this.db.withTenant(tenantId, (tx) => this.assetsTx(tx, includeRetired));
  }

  async assetsTx(tx: Tx, includeRetired = false): Promise<Asset[]> {
    const rows = await currentRows<AssetRow>(
      tx,
      ASSETS,
      includeRetired ? 'true' : `status = 'active'`,
    );
    return rows.map(toAsset);
  }

  async getAsset(tenantId: TenantId, id: string): Promise<Asset> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await currentRow<AssetRow>(tx, ASSETS, id);
      if (row === undefined) throw notFound('asset');
      return toAsset(row);
    });
  }

  async assetHistory(tenantId: TenantId, id: string): Promise<Asset[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await historyRows<AssetRow>(tx, ASSETS, id);
      if (rows.length === 0) throw notFound('asset');
      return rows.map(toAsset);
    });
  }

  async createAsset(tenantId: TenantId, input: AssetInput, actor: ComplianceActor): Promise<Asset> {
    return this.db.withTenant(tenantId, (tx) =>
      this.createAssetTx(tx, tenantId, input, actor, { source: 'manual', platformKey: null }),
    );
  }

  async createAssetTx(
    tx: Tx,
    tenantId: TenantId,
    input: AssetInput,
    actor: ComplianceActor,
    origin: { source: 'platform' | 'manual'; platformKey: string | null },
  ): Promise<Asset> {
    const values = await this.#assetValues(tx, input);
    const written = await writeVersion(
      tx,
      this.clock,
      tenantId,
      ASSETS,
      undefined,
      { ...values, platform_key: origin.platformKey, source: origin.source, status: 'active' },
      {
        actor,
        verb: 'create',
        details: { kind: values.kind, source: origin.source, phi: values.phi_classification },
      },
    );
    const asset = await this.#assetById(tx, written.id);
    await this.changes.onInventoryChange(tx, tenantId, assetRef(asset), 'created', actor);
    return asset;
  }

  async updateAsset(
    tenantId: TenantId,
    id: string,
    input: AssetInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Asset> {
    return this.db.withTenant(tenantId, (tx) =>
      this.updateAssetTx(tx, tenantId, id, input, actor, reason),
    );
  }

  async updateAssetTx(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    input: AssetInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Asset> {
    const prev = await currentRow<AssetRow>(tx, ASSETS, id, true);
    if (prev === undefined) throw notFound('asset');
    if (prev.status === 'retired') throw new AppError('conflict', 'the asset is retired');
    const values = await this.#assetValues(tx, input);
    await writeVersion(
      tx,
      this.clock,
      tenantId,
      ASSETS,
      prev,
      { ...values, platform_key: prev.platform_key, source: prev.source, status: prev.status },
      { actor, verb: 'update', reason, details: { kind: values.kind } },
    );
    const asset = await this.#assetById(tx, id);
    await this.changes.onInventoryChange(tx, tenantId, assetRef(asset), 'changed', actor);
    return asset;
  }

  async retireAsset(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Asset> {
    return this.db.withTenant(tenantId, (tx) =>
      this.retireAssetTx(tx, tenantId, id, actor, reason),
    );
  }

  async retireAssetTx(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Asset> {
    const prev = await currentRow<AssetRow>(tx, ASSETS, id, true);
    if (prev === undefined) throw notFound('asset');
    if (prev.status === 'retired') return toAsset(prev);
    await writeVersion(
      tx,
      this.clock,
      tenantId,
      ASSETS,
      prev,
      { ...prev, attributes: JSON.stringify(prev.attributes), status: 'retired' },
      { actor, verb: 'retire', reason },
    );
    const asset = await this.#assetById(tx, id);
    await this.changes.onInventoryChange(tx, tenantId, assetRef(asset), 'retired', actor);
    return asset;
  }

  async listFlows(tenantId: TenantId, includeRetired = false): Promise<DataFlow[]> {
    return this.db.withTenant(tenantId, (tx) => this.flowsTx(tx, includeRetired));
  }

  async flowsTx(tx: Tx, includeRetired = false): Promise<DataFlow[]> {
    const rows = await currentRows<FlowRow>(
      tx,
      DATA_FLOWS,
      includeRetired ? 'true' : `status = 'active'`,
    );
    return rows.map(toFlow);
  }

  async getFlow(tenantId: TenantId, id: string): Promise<DataFlow> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await currentRow<FlowRow>(tx, DATA_FLOWS, id);
      if (row === undefined) throw notFound('data flow');
      return toFlow(row);
    });
  }

  async flowHistory(tenantId: TenantId, id: string): Promise<DataFlow[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await historyRows<FlowRow>(tx, DATA_FLOWS, id);
      if (rows.length === 0) throw notFound('data flow');
      return rows.map(toFlow);
    });
  }

  async createFlow(
    tenantId: TenantId,
    input: DataFlowInput,
    actor: ComplianceActor,
  ): Promise<DataFlow> {
    return this.db.withTenant(tenantId, (tx) =>
      this.createFlowTx(tx, tenantId, input, actor, { source: 'manual', platformKey: null }),
    );
  }

  async createFlowTx(
    tx: Tx,
    tenantId: TenantId,
    input: DataFlowInput,
    actor: ComplianceActor,
    origin: { source: 'platform' | 'manual'; platformKey: string | null },
  ): Promise<DataFlow> {
    const values = await this.#flowValues(tx, input);
    const written = await writeVersion(
      tx,
      this.clock,
      tenantId,
      DATA_FLOWS,
      undefined,
      { ...values, platform_key: origin.platformKey, source: origin.source, status: 'active' },
      {
        actor,
        verb: 'create',
        details: { source: origin.source, phi: values.phi_categories.length > 0 },
      },
    );
    const flow = await this.#flowById(tx, written.id);
    await this.changes.onInventoryChange(tx, tenantId, flowRef(flow), 'created', actor);
    return flow;
  }

  async updateFlow(
    tenantId: TenantId,
    id: string,
    input: DataFlowInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<DataFlow> {
    return this.db.withTenant(tenantId, (tx) =>
      this.updateFlowTx(tx, tenantId, id, input, actor, reason),
    );
  }

  async updateFlowTx(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    input: DataFlowInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<DataFlow> {
    const prev = await currentRow<FlowRow>(tx, DATA_FLOWS, id, true);
    if (prev === undefined) throw notFound('data flow');
    if (prev.status === 'retired') throw new AppError('conflict', 'the data flow is retired');
    const values = await this.#flowValues(tx, input);
    await writeVersion(
      tx,
      this.clock,
      tenantId,
      DATA_FLOWS,
      prev,
      { ...values, platform_key: prev.platform_key, source: prev.source, status: prev.status },
      { actor, verb: 'update', reason },
    );
    const flow = await this.#flowById(tx, id);
    await this.changes.onInventoryChange(tx, tenantId, flowRef(flow), 'changed', actor);
    return flow;
  }

  async retireFlow(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<DataFlow> {
    return this.db.withTenant(tenantId, (tx) => this.retireFlowTx(tx, tenantId, id, actor, reason));
  }

  async retireFlowTx(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<DataFlow> {
    const prev = await currentRow<FlowRow>(tx, DATA_FLOWS, id, true);
    if (prev === undefined) throw notFound('data flow');
    if (prev.status === 'retired') return toFlow(prev);
    await writeVersion(
      tx,
      this.clock,
      tenantId,
      DATA_FLOWS,
      prev,
      { ...prev, status: 'retired' },
      {
        actor,
        verb: 'retire',
        reason,
      },
    );
    const flow = await this.#flowById(tx, id);
    await this.changes.onInventoryChange(tx, tenantId, flowRef(flow), 'retired', actor);
    return flow;
  }

  async #assetById(tx: Tx, id: string): Promise<Asset> {
    const row = await currentRow<AssetRow>(tx, ASSETS, id);
    if (row === undefined) throw new AppError('internal', 'asset vanished');
    return toAsset(row);
  }

  async #flowById(tx: Tx, id: string): Promise<DataFlow> {
    const row = await currentRow<FlowRow>(tx, DATA_FLOWS, id);
    if (row === undefined) throw new AppError('internal', 'data flow vanished');
    return toFlow(row);
  }

  async #assetValues(tx: Tx, input: AssetInput) {
    if (!(ASSET_KINDS as readonly string[]).includes(input.kind)) {
      throw new AppError('validation_failed', 'unknown asset kind', { detail: 'kind' });
    }
    if (!(PHI_CLASSIFICATIONS as readonly string[]).includes(input.phiClassification)) {
      throw new AppError('validation_failed', 'unknown PHI classification', {
        detail: 'phiClassification',
      });
    }
    const vendorId = input.vendorId ?? null;
    if (vendorId !== null) await requireVendor(tx, vendorId, 'vendorId');
    return {
      kind: input.kind,
      name: text(input.name, 'name', 1, 200),
      description: text(input.description, 'description', 0, 2000),
      owner: text(input.owner, 'owner', 1, 200),
      phi_classification: input.phiClassification,
      vendor_id: vendorId,
      attributes: JSON.stringify(checkAttributes(input.attributes)),
    };
  }

  async #flowValues(tx: Tx, input: DataFlowInput) {
    for (const [field, id] of [
      ['sourceAssetId', input.sourceAssetId],
      ['destinationAssetId', input.destinationAssetId],
    ] as const) {
      const asset = await currentRow<AssetRow>(tx, ASSETS, id);
      if (asset?.status !== 'active') {
        throw new AppError('validation_failed', 'no such active asset', { detail: field });
      }
    }
    if (input.sourceAssetId === input.destinationAssetId) {
      throw new AppError('validation_failed', 'a data flow joins two different assets', {
        detail: 'destinationAssetId',
      });
    }
    const categories = [...new Set(input.phiCategories)].sort();
    if (categories.length > 20 || !categories.every((c) => CATEGORY_RE.test(c))) {
      throw new AppError('validation_failed', 'PHI categories are lower-case words (at most 20)', {
        detail: 'phiCategories',
      });
    }
    const vendorId = input.vendorId ?? null;
    if (vendorId !== null) await requireVendor(tx, vendorId, 'vendorId');
    return {
      name: text(input.name, 'name', 1, 200),
      source_asset_id: input.sourceAssetId,
      destination_asset_id: input.destinationAssetId,
      phi_categories: categories,
      transport: text(input.transport, 'transport', 1, 200),
      encryption: text(input.encryption, 'encryption', 1, 200),
      vendor_id: vendorId,
      description: text(input.description, 'description', 0, 2000),
    };
  }
}

export function assetRef(a: Asset): InventoryRef {
  return { type: 'asset', id: a.id, name: a.name, assetIds: [a.id] };
}

export function flowRef(f: DataFlow): InventoryRef {
  return {
    type: 'data_flow',
    id: f.id,
    name: f.name,
    assetIds: [f.sourceAssetId, f.destinationAssetId],
  };
}
