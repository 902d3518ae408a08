/**
 * The audit record of a refused peer on the sending side (45 CFR 164.312(b), issue 8 item 4): the
 * destination's certificate did not match a pinned SPKI hash, so mtls.ts closed the connection
 * before any message byte left. Names the destination's origin and the message id, never content.
 */
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { NETWORK_PEER_PIN_MISMATCH } from '../monitoring/actions.js';

/** The transport's failure code for a pin mismatch (DeliveryFailure in mtls.ts). */
export const PIN_MISMATCH = 'pin_mismatch';

export async function auditPinMismatch(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  endpoint: string,
  message: { readonly id: string; readonly kind: string },
): Promise<void> {
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    origin = 'invalid';
  }
  await appendAudit(
    tx,
    {
      tenantId,
      actor: { kind: 'system' },
      action: NETWORK_PEER_PIN_MISMATCH,
      outcome: 'denied',
      subjects: [{ type: 'network_message', id: message.id }],
      details: { endpoint: origin, kind: message.kind },
    },
    clock,
  );
}
