/**
 * Integrations that send data to a vendor (pharmacy network endpoints, identity providers, alert
 * webhooks, export targets, SIEMs), each tied to a vendor, as people manage them: register,
 * change, enable through the BAA gate (integration-gate.ts), disable, suspend, retire. A refused
 * enable changes nothing and is itself audited (outcome `denied`).
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import {
  baaRefusal,
  currentIntegration,
  findIntegration,
  GATE_REFUSAL_RE,
  INTEGRATION_KINDS,
  INTEGRATIONS,
  IntegrationGate,
  listIntegrationsTx,
  setStatus,
  toIntegration,
  type Integration,
  type IntegrationInput,
  type IntegrationRow,
} from './integration-gate.js';
import { ASSETS, type InventoryChangePort, noInventoryChanges } from './inventory.model.js';
import { requireVendor } from './vendor.service.js';
import {
  auditCompliance,
  currentRow,
  historyRows,
  text,
  writeVersion,
  type ComplianceActor,
} from './versioned-store.js';

export {
  baaRefusal,
  findIntegration,
  INTEGRATION_KINDS,
  INTEGRATIONS,
  IntegrationGate,
  listIntegrationsTx,
  type GateRefusal,
  type Integration,
  type IntegrationInput,
  type IntegrationKind,
  type IntegrationStatus,
} from './integration-gate.js';

/** People's view of integrations: register, change, enable, disable, retire. */
export class IntegrationService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly changes: InventoryChangePort = noInventoryChanges,
    readonly gate: IntegrationGate = new IntegrationGate(clock),
  ) {}

  async list(tenantId: TenantId, includeRetired = false): Promise<Integration[]> {
    return this.db.withTenant(tenantId, (tx) => listIntegrationsTx(tx, includeRetired));
  }

  async get(tenantId: TenantId, id: string): Promise<Integration> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await currentIntegration(tx, id);
      if (row === undefined) throw new AppError('not_found', 'no such integration');
      return toIntegration(row);
    });
  }

  async history(tenantId: TenantId, id: string): Promise<Integration[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await historyRows<IntegrationRow>(tx, INTEGRATIONS, id);
      if (rows.length === 0) throw new AppError('not_found', 'no such integration');
      return rows.map(toIntegration);
    });
  }

  /** Registers an integration, disabled: enabling is a separate, gated step. */
  async create(
    tenantId: TenantId,
    input: IntegrationInput,
    actor: ComplianceActor,
  ): Promise<Integration> {
    return this.db.withTenant(tenantId, (tx) =>
      this.createTx(tx, tenantId, input, actor, { platformKey: null, status: 'disabled' }),
    );
  }

  async createTx(
    tx: Tx,
    tenantId: TenantId,
    input: IntegrationInput,
    actor: ComplianceActor,
    origin: { platformKey: string | null; status: 'disabled' | 'enabled'; reason?: string },
  ): Promise<Integration> {
    const values = await this.#values(tx, input);
    if ((await findIntegration(tx, values.kind, values.ref)) !== undefined) {
      throw new AppError('conflict', `a ${values.kind} integration "${values.ref}" exists`, {
        detail: 'ref',
      });
    }
    if (origin.status === 'enabled') {
      const refusal = await baaRefusal(tx, this.clock, {
        sendsPhi: values.sends_phi,
        vendorId: values.vendor_id,
        name: values.name,
      });
      if (refusal !== undefined) throw refusal;
    }
    const written = await writeVersion(
      tx,
      this.clock,
      tenantId,
      INTEGRATIONS,
      undefined,
      {
        ...values,
        platform_key: origin.platformKey,
        status: origin.status,
        status_reason: origin.reason ?? null,
      },
      {
        actor,
        verb: 'create',
        details: { kind: values.kind, sendsPhi: values.sends_phi, status: origin.status },
      },
    );
    const integration = await this.#get(tx, written.id);
    await this.changes.onInventoryChange(
      tx,
      tenantId,
      integrationRef(integration),
      'created',
      actor,
    );
    return integration;
  }

  /**
   * Changes an integration's description. An enabled one that would now send PHI without a BAA
   * in force is refused, as enabling it would be.
   */
  async update(
    tenantId: TenantId,
    id: string,
    input: IntegrationInput,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Integration> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentIntegration(tx, id, true);
      if (prev === undefined || prev.status === 'retired') {
        throw new AppError('not_found', 'no such integration');
      }
      const values = await this.#values(tx, input);
      const other = await findIntegration(tx, values.kind, values.ref);
      if (other !== undefined && other.id !== prev.record_id) {
        throw new AppError('conflict', `a ${values.kind} integration "${values.ref}" exists`, {
          detail: 'ref',
        });
      }
      if (prev.status === 'enabled') {
        const refusal = await baaRefusal(tx, this.clock, {
          sendsPhi: values.sends_phi,
          vendorId: values.vendor_id,
          name: values.name,
        });
        if (refusal !== undefined) throw refusal;
      }
      await writeVersion(
        tx,
        this.clock,
        tenantId,
        INTEGRATIONS,
        prev,
        {
          ...values,
          platform_key: prev.platform_key,
          status: prev.status,
          status_reason: prev.status_reason,
        },
        {
          actor,
          verb: 'update',
          reason,
          details: { kind: values.kind, sendsPhi: values.sends_phi },
        },
      );
      const integration = await this.#get(tx, id);
      await this.changes.onInventoryChange(
        tx,
        tenantId,
        integrationRef(integration),
        'changed',
        actor,
      );
      return integration;
    });
  }

  /**
   * Enables an integration after the gate: one that sends PHI needs a vendor with a BAA in force.
   * A refusal leaves the integration as it was; the attempt is audited (outcome `denied`).
   */
  async enable(tenantId: TenantId, id: string, actor: ComplianceActor): Promise<Integration> {
    try {
      return await this.db.withTenant(tenantId, async (tx) => {
        const prev = await currentIntegration(tx, id, true);
        if (prev === undefined || prev.status === 'retired') {
          throw new AppError('not_found', 'no such integration');
        }
        if (prev.status === 'enabled') return toIntegration(prev);
        const refusal = await baaRefusal(tx, this.clock, toIntegration(prev));
        if (refusal !== undefined) throw refusal;
        return setStatus(tx, this.clock, tenantId, prev, 'enabled', null, actor, 'enable');
      });
    } catch (err) {
      if (err instanceof AppError && GATE_REFUSAL_RE.test(err.detail ?? '')) {
        // The refusal rolled the change back; record the attempt on its own.
        await this.db.withTenant(tenantId, (tx) =>
          auditCompliance(tx, this.clock, tenantId, actor, 'compliance.integration.enable', {
            outcome: 'denied',
            subjects: [{ type: INTEGRATIONS.subject, id }],
            details: { refusal: (err.detail ?? '').split(':')[0] ?? '' },
          }),
        );
      }
      throw err;
    }
  }

  async disable(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Integration> {
    return this.db.withTenant(tenantId, async (tx) => {
      const prev = await currentIntegration(tx, id, true);
      if (prev === undefined || prev.status === 'retired') {
        throw new AppError('not_found', 'no such integration');
      }
      if (prev.status === 'disabled') return toIntegration(prev);
      return setStatus(
        tx,
        this.clock,
        tenantId,
        prev,
        'disabled',
        reason ?? null,
        actor,
        'disable',
      );
    });
  }

  async suspend(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason: string,
  ): Promise<Integration> {
    return this.db.withTenant(tenantId, (tx) => this.gate.suspend(tx, tenantId, id, reason, actor));
  }

  async retire(
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Integration> {
    return this.db.withTenant(tenantId, (tx) => this.retireTx(tx, tenantId, id, actor, reason));
  }

  async retireTx(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    actor: ComplianceActor,
    reason?: string,
  ): Promise<Integration> {
    const prev = await currentIntegration(tx, id, true);
    if (prev === undefined) throw new AppError('not_found', 'no such integration');
    if (prev.status === 'retired') return toIntegration(prev);
    const integration = await setStatus(
      tx,
      this.clock,
      tenantId,
      prev,
      'retired',
      reason ?? null,
      actor,
      'retire',
    );
    await this.changes.onInventoryChange(
      tx,
      tenantId,
      integrationRef(integration),
      'retired',
      actor,
    );
    return integration;
  }

  async #get(tx: Tx, id: string): Promise<Integration> {
    const row = await currentIntegration(tx, id);
    if (row === undefined) throw new AppError('internal', 'integration vanished');
    return toIntegration(row);
  }

  async #values(tx: Tx, input: IntegrationInput) {
    if (!(INTEGRATION_KINDS as readonly string[]).includes(input.kind)) {
      throw new AppError('validation_failed', 'unknown integration kind', { detail: 'kind' });
    }
    if (input.vendorId !== null) await requireVendor(tx, input.vendorId, 'vendorId');
    const assetId = input.assetId ?? null;
    if (assetId !== null) {
      const asset = await currentRow(tx, ASSETS, assetId);
      if (asset === undefined) {
        throw new AppError('validation_failed', 'no such asset', { detail: 'assetId' });
      }
    }
    return {
      kind: input.kind,
      name: text(input.name, 'name', 1, 200),
      ref: text(input.ref, 'ref', 1, 500),
      vendor_id: input.vendorId,
      asset_id: assetId,
      sends_phi: input.sendsPhi,
    };
  }
}

export function integrationRef(i: Integration): {
  type: 'integration';
  id: string;
  name: string;
  assetIds: string[];
} {
  return {
    type: 'integration',
    id: i.id,
    name: i.name,
    assetIds: i.assetId === null ? [] : [i.assetId],
  };
}
