/**
 * The BAA gate in front of integrations that send data to a vendor (45 CFR 164.308(b)(1),
 * 164.502(e)): an integration that sends PHI passes only while its vendor has a Business
 * Associate Agreement in force. Other modules call {@link IntegrationGate} inside their own
 * transaction (network before sending to a pharmacy, identity before enabling an IdP, part A's
 * incident containment to cut a vendor off), so a refusal rolls back whatever they were doing.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { baaCoverage, today, vendorName, type BaaStanding } from './baa.service.js';
import {
  currentRow,
  currentRows,
  metaOf,
  text,
  writeVersion,
  SYSTEM_ACTOR,
  type ComplianceActor,
  type VersionMeta,
  type VersionRow,
  type VersionedTable,
} from './versioned-store.js';

export const INTEGRATION_KINDS = [
  'pharmacy_network',
  'identity_provider',
  'alert_webhook',
  'export_target',
  'siem',
] as const;
export type IntegrationKind = (typeof INTEGRATION_KINDS)[number];
export type IntegrationStatus = 'disabled' | 'enabled' | 'suspended' | 'retired';

export interface IntegrationInput {
  readonly kind: IntegrationKind;
  readonly name: string;
  /** How other modules name it: an issuer URL, a pharmacy endpoint id, a target name. */
  readonly ref: string;
  /** The vendor receiving the data (required for anything that sends PHI). */
  readonly vendorId: string | null;
  readonly assetId?: string | null | undefined;
  readonly sendsPhi: boolean;
}

export interface Integration extends VersionMeta {
  readonly kind: IntegrationKind;
  readonly name: string;
  readonly ref: string;
  readonly vendorId: string | null;
  readonly assetId: string | null;
  readonly sendsPhi: boolean;
  readonly status: IntegrationStatus;
  readonly statusReason: string | null;
  readonly platformKey: string | null;
}

export const INTEGRATIONS: VersionedTable = {
  table: 'compliance_integrations',
  columns: [
    'platform_key',
    'kind',
    'name',
    'ref',
    'vendor_id',
    'asset_id',
    'sends_phi',
    'status',
    'status_reason',
  ],
  subject: 'compliance_integration',
  action: 'compliance.integration',
};

export interface IntegrationRow extends VersionRow {
  platform_key: string | null;
  kind: IntegrationKind;
  name: string;
  ref: string;
  vendor_id: string | null;
  asset_id: string | null;
  sends_phi: boolean;
  status: IntegrationStatus;
  status_reason: string | null;
}

export const toIntegration = (r: IntegrationRow): Integration => ({
  ...metaOf(r),
  kind: r.kind,
  name: r.name,
  ref: r.ref,
  vendorId: r.vendor_id,
  assetId: r.asset_id,
  sendsPhi: r.sends_phi,
  status: r.status,
  statusReason: r.status_reason,
  platformKey: r.platform_key,
});

/** Why the gate refuses; the `detail` of the problem+json starts with this code. */
export type GateRefusal =
  | 'integration_not_registered'
  | 'integration_disabled'
  | 'integration_suspended'
  | 'integration_retired'
  | 'no_vendor'
  | 'no_active_baa';

export const GATE_REFUSAL_RE =
  /^(integration_not_registered|integration_disabled|integration_suspended|integration_retired|no_vendor|no_active_baa):/;

function refuse(code: GateRefusal, explanation: string): AppError {
  return new AppError('conflict', 'integration refused', { detail: `${code}: ${explanation}` });
}

const STANDING_TEXT: Readonly<Record<BaaStanding, string>> = {
  in_force: 'is in force',
  none: 'does not exist',
  expired: 'has expired',
  terminated: 'was terminated',
  not_yet_effective: 'is not yet effective',
  unsigned: 'has no signed document attached',
};

/**
 * The BAA precondition of sending PHI to an integration's vendor; undefined when it holds.
 * 45 CFR 164.308(b)(1): PHI goes to a business associate only under satisfactory assurances.
 */
export async function baaRefusal(
  tx: Tx,
  clock: Clock,
  integration: Pick<Integration, 'sendsPhi' | 'vendorId' | 'name'>,
): Promise<AppError | undefined> {
  if (!integration.sendsPhi) return undefined;
  if (integration.vendorId === null) {
    return refuse(
      'no_vendor',
      `"${integration.name}" sends PHI but names no vendor; assign the vendor and its BAA first`,
    );
  }
  const day = today(clock);
  const cover = await baaCoverage(tx, integration.vendorId, day);
  if (cover.standing === 'in_force') return undefined;
  const vendor = await vendorName(tx, integration.vendorId);
  return refuse(
    'no_active_baa',
    `"${integration.name}" sends PHI to vendor "${vendor}", whose business associate agreement ${STANDING_TEXT[cover.standing]} on ${day}; an active BAA is required (45 CFR 164.308(b)(1))`,
  );
}

export async function currentIntegration(
  tx: Tx,
  id: string,
  lock = false,
): Promise<IntegrationRow | undefined> {
  return currentRow<IntegrationRow>(tx, INTEGRATIONS, id, lock);
}

/** The registered (not retired) integration of `kind` named `ref`, or undefined. */
export async function findIntegration(
  tx: Tx,
  kind: IntegrationKind,
  ref: string,
): Promise<Integration | undefined> {
  const rows = await currentRows<IntegrationRow>(
    tx,
    INTEGRATIONS,
    `kind = $1 AND ref = $2 AND status <> 'retired'`,
    [kind, ref],
  );
  const row = rows[0];
  return row === undefined ? undefined : toIntegration(row);
}

/** Every current integration (retired ones too when asked). */
export async function listIntegrationsTx(tx: Tx, includeRetired = false): Promise<Integration[]> {
  const rows = await currentRows<IntegrationRow>(
    tx,
    INTEGRATIONS,
    includeRetired ? 'true' : `status <> 'retired'`,
  );
  return rows.map(toIntegration);
}

export async function setStatus(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  prev: IntegrationRow,
  status: IntegrationStatus,
  reason: string | null,
  actor: ComplianceActor,
  verb: string,
): Promise<Integration> {
  await writeVersion(
    tx,
    clock,
    tenantId,
    INTEGRATIONS,
    prev,
    { ...prev, status, status_reason: reason },
    {
      actor,
      verb,
      reason: reason ?? undefined,
      details: { kind: prev.kind, from: prev.status, to: status, sendsPhi: prev.sends_phi },
    },
  );
  const row = await currentIntegration(tx, prev.record_id);
  if (row === undefined) throw new AppError('internal', 'integration vanished');
  return toIntegration(row);
}

/**
 * The gate other modules call (network before sending to a pharmacy, identity before enabling an
 * IdP, part A's incident containment to cut a vendor off). It works inside the caller's
 * transaction, so a refusal rolls back whatever the caller was doing.
 */
export class IntegrationGate {
  constructor(private readonly clock: Clock) {}

  /**
   * The integration of `kind` named `ref`, if it is registered, enabled, and (when it sends PHI)
   * covered by a BAA in force today; otherwise `conflict` with the reason in `detail`.
   */
  async requireEnabled(
    tx: Tx,
    _tenantId: TenantId,
    kind: IntegrationKind,
    ref: string,
  ): Promise<Integration> {
    // The transaction is already in the tenant's context: row-level security scopes the lookup.
    const integration = await findIntegration(tx, kind, ref);
    if (integration === undefined) {
      throw refuse('integration_not_registered', `no ${kind} integration "${ref}" is registered`);
    }
    if (integration.status === 'suspended') {
      throw refuse(
        'integration_suspended',
        `"${integration.name}" is suspended (${integration.statusReason ?? 'no reason given'})`,
      );
    }
    if (integration.status !== 'enabled') {
      throw refuse('integration_disabled', `"${integration.name}" is not enabled`);
    }
    const refusal = await baaRefusal(tx, this.clock, integration);
    if (refusal !== undefined) throw refusal;
    return integration;
  }

  /**
   * For a module that turns an integration on (SSO): an integration registered for `kind`/`ref`
   * must pass the gate, and becomes enabled in the same transaction; one nobody registered is
   * left to the inventory sync (it registers it, as not sending PHI unless people say so).
   */
  async checkEnable(
    tx: Tx,
    tenantId: TenantId,
    kind: IntegrationKind,
    ref: string,
    actor: ComplianceActor,
  ): Promise<Integration | undefined> {
    const found = await findIntegration(tx, kind, ref);
    if (found === undefined) return undefined;
    const prev = await currentIntegration(tx, found.id, true);
    if (prev === undefined) return undefined;
    if (prev.status === 'suspended') {
      throw refuse(
        'integration_suspended',
        `"${prev.name}" is suspended (${prev.status_reason ?? 'no reason given'}); resolve it first`,
      );
    }
    const refusal = await baaRefusal(tx, this.clock, toIntegration(prev));
    if (refusal !== undefined) throw refusal;
    if (prev.status === 'enabled') return toIntegration(prev);
    return setStatus(tx, this.clock, tenantId, prev, 'enabled', null, actor, 'enable');
  }

  /**
   * Suspends an integration (an expired BAA, an incident's containment); audited. Suspending a
   * suspended one is a no-op. `not_found` for an unknown id.
   */
  async suspend(
    tx: Tx,
    tenantId: TenantId,
    integrationId: string,
    reason: string,
    actor: ComplianceActor = SYSTEM_ACTOR,
  ): Promise<Integration> {
    const prev = await currentIntegration(tx, integrationId, true);
    if (prev === undefined || prev.status === 'retired') {
      throw new AppError('not_found', 'no such integration');
    }
    if (prev.status === 'suspended') return toIntegration(prev);
    return setStatus(
      tx,
      this.clock,
      tenantId,
      prev,
      'suspended',
      text(reason, 'reason', 1, 500),
      actor,
      'suspend',
    );
  }
}
