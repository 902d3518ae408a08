/**
 * The BAA gate at send time (45 CFR 164.308(b)(1), 164.502(e); issue 9 item 2): before a message
 * goes to a network endpoint (a switch, or a pharmacy reached directly), the `pharmacy_network`
 * integration named by the endpoint's ref must be enabled and its vendor covered by a BAA in
 * force. The ref is `endpoint:<origin of the endpoint URL>`: whoever operates that host receives
 * the PHI, and many pharmacies behind one gateway are one integration (a national directory would
 * otherwise be tens of thousands). The compliance inventory registers the same refs from
 * {@link networkPharmacyEndpoints}.
 */
import { isAppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { PharmacyEndpointSource } from '../compliance/index.js';
import { GATE_REFUSAL_RE, type IntegrationGate } from '../compliance/integration-gate.js';

/** Checks a destination; undefined when sending is allowed, else the refusal code. */
export interface SendGate {
  check(tx: Tx, tenantId: TenantId, ref: string): Promise<string | undefined>;
}

/**
 * No gate, passed explicitly by tests of the delivery mechanics and the benchmark only; `scrip
 * serve` always uses {@link baaSendGate} (a worker has no default gate).
 */
export const allowAllGate: SendGate = { check: () => Promise.resolve(undefined) };

/**
 * How soon a message held by the gate is checked again at the latest: a held message costs a
 * database read, not a delivery, and once the BAA or the integration is put right it should go
 * within a minute, not after a back-off grown to its maximum.
 */
export const GATE_RECHECK_MS = 60_000;

/** When to check a held message again: its back-off, capped at {@link GATE_RECHECK_MS}. */
export function gateRecheckAt(now: Date, backoff: Date): Date {
  return new Date(Math.min(backoff.getTime(), now.getTime() + GATE_RECHECK_MS));
}

/** The integration ref of a destination URL. */
export function endpointRef(url: string): string {
  return `endpoint:${new URL(url).origin}`;
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
 * The network endpoints a tenant sends PHI to, for the compliance inventory: the switch of each of
 * its network identities and the endpoint hosts of the active pharmacies in its directory, one
 * per origin.
 */
export const networkPharmacyEndpoints: PharmacyEndpointSource = {
  async list(tx) {
    const byRef = new Map<string, string>();
    const switches = await tx.query<{ switch_url: string }>(
      'SELECT DISTINCT switch_url FROM network_identities WHERE switch_url IS NOT NULL ORDER BY 1',
    );
    for (const s of switches.rows) {
      byRef.set(endpointRef(s.switch_url), `Network switch ${new URL(s.switch_url).host}`);
    }
    const pharmacies = await tx.query<{ endpoint_url: string; n: string }>(
      `SELECT endpoint_url, count(*) AS n FROM pharmacies WHERE active
        GROUP BY endpoint_url ORDER BY endpoint_url`,
    );
    const counts = new Map<string, number>();
    for (const p of pharmacies.rows) {
      const ref = endpointRef(p.endpoint_url);
      counts.set(ref, (counts.get(ref) ?? 0) + Number(p.n));
    }
    for (const [ref, n] of counts) {
      if (!byRef.has(ref)) {
        byRef.set(ref, `Pharmacy endpoint ${ref.slice('endpoint:https://'.length)} (${String(n)})`);
      }
    }
    return [...byRef].map(([ref, name]) => ({ ref, name }));
  },
};
