/**
 * Plugs the pharmacy side into the installation's network node: the receiver's NewRx and CancelRx
 * handlers answer messages addressed To P:<NCPDP ID> of a pharmacy tenant. The node owns the
 * transport, the per-(From, MessageID) idempotency and the answer's envelope; the pharmacy
 * decides Status 000 or Error 900 and archives what it accepted (21 CFR 1311.205, 1311.210).
 */
import type { InboundAnswer, InboundHandler } from '../network/inbound-dispatcher.js';
import type { NetworkNode } from '../network/network-node.js';
import type { MessageType } from '../network/ncpdp-script.types.js';
import type { InboundHandler as PharmacyHandler, PharmacyReceiver } from './pharmacy-receive.js';

function adapt(handler: PharmacyHandler): InboundHandler {
  return async (tx, tenantId, message, jws, meta) => {
    const answered = await handler(tx, tenantId, message, jws, {
      xml: meta.xml,
      requestId: meta.requestId,
    });
    const m = answered.message;
    if (m.type === 'Status') return { kind: 'status' };
    const verdict: InboundAnswer = {
      kind: 'error',
      code: m.body.code,
      ...(m.body.descriptionCode === undefined ? {} : { descriptionCode: m.body.descriptionCode }),
      ...(m.body.description === undefined ? {} : { description: m.body.description }),
    };
    return verdict;
  };
}

/** Registers every message type the pharmacy receiver handles, for To qualifier P. */
export function registerPharmacyHandlers(node: NetworkNode, receiver: PharmacyReceiver): void {
  for (const [type, handler] of Object.entries(receiver.handlers) as [
    MessageType,
    PharmacyHandler | undefined,
  ][]) {
    if (handler !== undefined) node.register('P', type, adapt(handler));
  }
}
