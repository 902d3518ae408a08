/**
 * The inventory's vocabulary: asset kinds and PHI classifications, assets and data flows as
 * stored (versioned), and the port through which inventory changes reach the risk register.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import {
  metaOf,
  type ComplianceActor,
  type VersionMeta,
  type VersionRow,
  type VersionedTable,
} from './versioned-store.js';

export const ASSET_KINDS = [
  'service',
  'database',
  'key_provider',
  'integration',
  'endpoint',
  'device',
  'storage',
] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

/**
 * `ephi`: creates, receives, maintains or transmits ePHI; `limited`: identifiers, keys or
 * metadata that protect or point at ePHI without holding it; `none`.
 */
export const PHI_CLASSIFICATIONS = ['ephi', 'limited', 'none'] as const;
export type PhiClassification = (typeof PHI_CLASSIFICATIONS)[number];

export type AttributeValue = string | number | boolean | null;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export interface AssetInput {
  readonly kind: AssetKind;
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  readonly phiClassification: PhiClassification;
  /** The vendor that operates or hosts it (a vendor record id), if any. */
  readonly vendorId?: string | null | undefined;
  readonly attributes?: Attributes | undefined;
}

export interface Asset extends VersionMeta {
  readonly kind: AssetKind;
  readonly name: string;
  readonly description: string;
  readonly owner: string;
  readonly phiClassification: PhiClassification;
  readonly vendorId: string | null;
  readonly attributes: Attributes;
  readonly platformKey: string | null;
  readonly source: 'platform' | 'manual';
  readonly status: 'active' | 'retired';
}

export interface DataFlowInput {
  readonly name: string;
  readonly sourceAssetId: string;
  readonly destinationAssetId: string;
  /** What PHI travels, e.g. `demographics`, `prescriptions`; empty when none. */
  readonly phiCategories: readonly string[];
  readonly transport: string;
  readonly encryption: string;
  readonly vendorId?: string | null | undefined;
  readonly description: string;
}

export interface DataFlow extends VersionMeta {
  readonly name: string;
  readonly sourceAssetId: string;
  readonly destinationAssetId: string;
  readonly phiCategories: readonly string[];
  readonly transport: string;
  readonly encryption: string;
  readonly vendorId: string | null;
  readonly description: string;
  readonly platformKey: string | null;
  readonly source: 'platform' | 'manual';
  readonly status: 'active' | 'retired';
}

/** What changed in the inventory, for the risk register (part A) to find affected risks. */
export interface InventoryRef {
  readonly type: 'asset' | 'data_flow' | 'integration';
  /** The record id. */
  readonly id: string;
  readonly name: string;
  /** Assets concerned: the asset itself, a flow's two ends, an integration's asset. */
  readonly assetIds: readonly string[];
}

export type InventoryChangeCause = 'created' | 'changed' | 'retired';

/**
 * Called in the transaction of every inventory change (a new pharmacy gateway, integration or
 * data flow must open a reassessment of the affected risks: issue #9 item 3).
 */
export interface InventoryChangePort {
  onInventoryChange(
    tx: Tx,
    tenantId: TenantId,
    assetRef: InventoryRef,
    cause: InventoryChangeCause,
    /** Who changed it: the reassessment is recorded under the same actor. */
    actor: ComplianceActor,
  ): Promise<void>;
}

export const noInventoryChanges: InventoryChangePort = {
  onInventoryChange: async () => undefined,
};

export const ASSETS: VersionedTable = {
  table: 'compliance_assets',
  columns: [
    'platform_key',
    'kind',
    'name',
    'description',
    'owner',
    'phi_classification',
    'vendor_id',
    'attributes',
    'source',
    'status',
  ],
  subject: 'compliance_asset',
  action: 'compliance.asset',
};

export const DATA_FLOWS: VersionedTable = {
  table: 'compliance_data_flows',
  columns: [
    'platform_key',
    'name',
    'source_asset_id',
    'destination_asset_id',
    'phi_categories',
    'transport',
    'encryption',
    'vendor_id',
    'description',
    'source',
    'status',
  ],
  subject: 'compliance_data_flow',
  action: 'compliance.data_flow',
};

export interface AssetRow extends VersionRow {
  platform_key: string | null;
  kind: AssetKind;
  name: string;
  description: string;
  owner: string;
  phi_classification: PhiClassification;
  vendor_id: string | null;
  attributes: Record<string, AttributeValue>;
  source: 'platform' | 'manual';
  status: 'active' | 'retired';
}

export interface FlowRow extends VersionRow {
  platform_key: string | null;
  name: string;
  source_asset_id: string;
  destination_asset_id: string;
  phi_categories: string[];
  transport: string;
  encryption: string;
  vendor_id: string | null;
  description: string;
  source: 'platform' | 'manual';
  status: 'active' | 'retired';
}

export function toAsset(r: AssetRow): Asset {
  return {
    ...metaOf(r),
    kind: r.kind,
    name: r.name,
    description: r.description,
    owner: r.owner,
    phiClassification: r.phi_classification,
    vendorId: r.vendor_id,
    attributes: r.attributes,
    platformKey: r.platform_key,
    source: r.source,
    status: r.status,
  };
}

export function toFlow(r: FlowRow): DataFlow {
  return {
    ...metaOf(r),
    name: r.name,
    sourceAssetId: r.source_asset_id,
    destinationAssetId: r.destination_asset_id,
    phiCategories: r.phi_categories,
    transport: r.transport,
    encryption: r.encryption,
    vendorId: r.vendor_id,
    description: r.description,
    platformKey: r.platform_key,
    source: r.source,
    status: r.status,
  };
}
