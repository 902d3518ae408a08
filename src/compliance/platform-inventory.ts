/**
 * Scrip's own components (platform-components.ts) in each tenant's inventory:
 * {@link syncPlatformInventory} writes them and keeps them current. Idempotent (a second run
 * changes nothing); a changed component gets a new version; a removed one is retired
 * (superseded, never deleted).
 *
 * Platform fields (kind, name, attributes; a flow's ends, PHI, transport, encryption) follow the
 * configuration; what people add (owner, classification, vendor, description) is kept.
 */
import type { Clock, TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { canonicalize } from '../crypto/jcs.js';
import type { Asset, DataFlow } from './inventory.model.js';
import type { InventoryService } from './inventory.service.js';
import { baaRefusal, findIntegration, listIntegrationsTx } from './integration-gate.js';
import type { IntegrationService } from './integration.service.js';
import {
  describePlatform,
  type PharmacyEndpointSource,
  type PlatformFacts,
} from './platform-components.js';
import type { ComplianceActor } from './versioned-store.js';

export {
  noPharmacyEndpoints,
  platformFacts,
  type PharmacyEndpoint,
  type PharmacyEndpointSource,
  type PlatformFacts,
} from './platform-components.js';

export interface SyncReport {
  readonly created: readonly string[];
  readonly changed: readonly string[];
  readonly retired: readonly string[];
}

export interface PlatformSyncDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly facts: PlatformFacts;
  readonly inventory: InventoryService;
  readonly integrations: IntegrationService;
  readonly pharmacies: PharmacyEndpointSource;
}

const same = (a: unknown, b: unknown): boolean => canonicalize(a) === canonicalize(b);

/**
 * Brings the tenant's inventory in line with the platform's configuration; see the module
 * comment. Runs in one transaction, serialised per tenant. Returns the platform keys touched.
 */
export async function syncPlatformInventory(
  deps: PlatformSyncDeps,
  tenantId: TenantId,
  actor: ComplianceActor,
): Promise<SyncReport> {
  return deps.db.withTenant(tenantId, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `scrip-inventory-sync:${tenantId}`,
    ]);
    // Read-only look at identity's table: issuer and whether enabled (never the client secret).
    const idps = (
      await tx.query<{ issuer: string; enabled: boolean }>(
        'SELECT issuer, enabled FROM sso_providers ORDER BY issuer',
      )
    ).rows;
    const desired = describePlatform(deps.facts, idps, await deps.pharmacies.list(tx, tenantId));
    const created: string[] = [];
    const changed: string[] = [];
    const retired: string[] = [];
    const byKey = <T extends { platformKey: string | null; source: string }>(list: T[]) =>
      new Map(
        list
          .filter((x) => x.source === 'platform' && x.platformKey !== null)
          .map((x) => [x.platformKey ?? '', x]),
      );

    const assets: Map<string, Asset> = byKey(await deps.inventory.assetsTx(tx));
    const assetIds = new Map<string, string>();
    for (const d of desired.assets) {
      const cur = assets.get(d.key);
      if (cur === undefined) {
        const a = await deps.inventory.createAssetTx(
          tx,
          tenantId,
          {
            kind: d.kind,
            name: d.name,
            description: d.description,
            owner: d.owner,
            phiClassification: d.phi,
            attributes: d.attributes,
          },
          actor,
          { source: 'platform', platformKey: d.key },
        );
        assetIds.set(d.key, a.id);
        created.push(d.key);
        continue;
      }
      assetIds.set(d.key, cur.id);
      if (cur.kind === d.kind && cur.name === d.name && same(cur.attributes, d.attributes))
        continue;
      await deps.inventory.updateAssetTx(
        tx,
        tenantId,
        cur.id,
        {
          kind: d.kind,
          name: d.name,
          description: cur.description,
          owner: cur.owner,
          phiClassification: cur.phiClassification,
          vendorId: cur.vendorId,
          attributes: d.attributes,
        },
        actor,
        'platform configuration changed',
      );
      changed.push(d.key);
    }

    const flows: Map<string, DataFlow> = byKey(await deps.inventory.flowsTx(tx));
    const wanted = new Set(desired.flows.map((f) => f.key));
    for (const [key, f] of flows) {
      if (wanted.has(key)) continue;
      await deps.inventory.retireFlowTx(
        tx,
        tenantId,
        f.id,
        actor,
        'no longer in the platform configuration',
      );
      retired.push(key);
    }
    for (const d of desired.flows) {
      const from = assetIds.get(d.from);
      const to = assetIds.get(d.to);
      if (from === undefined || to === undefined) continue;
      const input = {
        name: d.name,
        sourceAssetId: from,
        destinationAssetId: to,
        phiCategories: d.phiCategories,
        transport: d.transport,
        encryption: d.encryption,
        description: d.description,
      };
      const cur = flows.get(d.key);
      if (cur === undefined) {
        await deps.inventory.createFlowTx(tx, tenantId, input, actor, {
          source: 'platform',
          platformKey: d.key,
        });
        created.push(d.key);
        continue;
      }
      const unchanged =
        cur.name === d.name &&
        cur.sourceAssetId === from &&
        cur.destinationAssetId === to &&
        same([...cur.phiCategories].sort(), [...d.phiCategories].sort()) &&
        cur.transport === d.transport &&
        cur.encryption === d.encryption;
      if (unchanged) continue;
      await deps.inventory.updateFlowTx(
        tx,
        tenantId,
        cur.id,
        { ...input, vendorId: cur.vendorId, description: cur.description },
        actor,
        'platform configuration changed',
      );
      changed.push(d.key);
    }

    const wantedIntegrations = new Set(desired.integrations.map((i) => i.key));
    for (const i of await listIntegrationsTx(tx)) {
      if (i.platformKey === null || wantedIntegrations.has(i.platformKey)) continue;
      await deps.integrations.retireTx(
        tx,
        tenantId,
        i.id,
        actor,
        'no longer in the platform configuration',
      );
      retired.push(i.platformKey);
    }
    for (const d of desired.integrations) {
      if ((await findIntegration(tx, d.kind, d.ref)) !== undefined) continue;
      const input = {
        kind: d.kind,
        name: d.name,
        ref: d.ref,
        vendorId: null,
        assetId: assetIds.get(d.assetKey) ?? null,
        sendsPhi: d.sendsPhi,
      };
      // Registered as it runs, unless it sends PHI without a BAA: then it waits, disabled.
      const refusal = d.enabled ? await baaRefusal(tx, deps.clock, input) : undefined;
      await deps.integrations.createTx(tx, tenantId, input, actor, {
        platformKey: d.key,
        status: d.enabled && refusal === undefined ? 'enabled' : 'disabled',
        ...(refusal === undefined ? {} : { reason: 'awaiting a vendor and an active BAA' }),
      });
      created.push(`integration:${d.key}`);
    }

    for (const [key, a] of assets) {
      if (assetIds.has(key)) continue;
      await deps.inventory.retireAssetTx(
        tx,
        tenantId,
        a.id,
        actor,
        'no longer in the platform configuration',
      );
      retired.push(key);
    }
    return { created, changed, retired };
  });
}
