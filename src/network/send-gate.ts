/**
 * The BAA gate at send time (45 CFR 164.308(b)(1), 164.502(e); issue 9 item 2): before a message
 * goes to a pharmacy network endpoint, the `pharmacy_network` integration named by the endpoint's
 * ref must be enabled and its vendor covered by a BAA in force. The refs are the ones the
 * compliance inventory registers from {@link networkPharmacyEndpoints}:
 *   `ncpdp:<NCPDP ID>`   a pharmacy reached directly (its directory endpoint);
 *   `switch:<origin>`    the switch a tenant sends through (the intermediary receives the PHI).
 */
import { isAppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { PharmacyEndpoint, PharmacyEndpointSource } from '../compliance/index.js';
import { GATE_REFUSAL_RE, type IntegrationGate } from '../compliance/integration-gate.js';

/** Checks a destination; undefined when sending is allowed, else the refusal code. */
export interface SendGate {
  check(tx: Tx, tenantId: TenantId, ref: string): Promise<string | undefined>;
}

/** No gate (delivery-mechanics tests only; `scrip serve` always uses {@link baaSendGate}). */
export const allowAllGate: SendGate = { check: () => Promise.resolve(undefined) };

/** The integration ref of a destination. */
export function endpointRef(
  to: { readonly ncpdpId: string } | { readonly switchUrl: string },
): string {
  return 'ncpdpId' in to ? `ncpdp:${to.ncpdpId}` : `switch:${new URL(to.switchUrl).origin}`;
}

/** The gate over the compliance program's IntegrationGate. */
export function baaSendGate(gate: Pick<IntegrationGate, 'requireEnabled'>): SendGate {
  return {
    async check(tx, tenantId, ref) {
      try {
        await gate.requireEnabled(tx, tenantId, 'pharmacy_network', ref);
        return undefined;
      } catch (err) {
        if (!isAppError(err) || err.code !== 'conflict') throw err;
        return GATE_REFUSAL_RE.exec(err.detail ?? '')?.[1] ?? 'integration_refused';
      }
    },
  };
}

/**
 * The pharmacy endpoints a tenant sends PHI to, for the compliance inventory: the switch of each
 * of its network identities and every active pharmacy in its directory.
 */
export const networkPharmacyEndpoints: PharmacyEndpointSource = {
  async list(tx) {
    const out: PharmacyEndpoint[] = [];
    const switches = await tx.query<{ switch_url: string }>(
      'SELECT DISTINCT switch_url FROM network_identities WHERE switch_url IS NOT NULL ORDER BY 1',
    );
    for (const s of switches.rows) {
      const ref = endpointRef({ switchUrl: s.switch_url });
      out.push({ ref, name: `Network switch ${new URL(s.switch_url).host}` });
    }
    const pharmacies = await tx.query<{ ncpdp_id: string; name: string }>(
      'SELECT ncpdp_id, name FROM pharmacies WHERE active ORDER BY ncpdp_id',
    );
    for (const p of pharmacies.rows) {
      out.push({ ref: endpointRef({ ncpdpId: p.ncpdp_id }), name: `${p.name} (${p.ncpdp_id})` });
    }
    return out;
  },
};
