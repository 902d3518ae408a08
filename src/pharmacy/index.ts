/**
 * The pharmacy side of the network (issue 8 item 6): Scrip used as the pharmacy application
 * (21 CFR 1311.205, 1311.210). See docs/pharmacy.md.
 *
 * - {@link pharmacyReceiver}: the inbound handlers (NewRx, CancelRx) the network dispatcher
 *   registers by message type and calls inside the receiving tenant's transaction.
 * - {@link PharmacyInboxService}: the pharmacist's inbox and actions (accept, dispense, answer a
 *   cancellation, renewal and change requests), each sending its SCRIPT message through the
 *   {@link NetworkOutbox} port in the same transaction.
 * - {@link PharmacySetupService}: the tenant's pharmacies, their staff, trusted prescriber systems.
 */
import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { NetworkOutbox } from '../network/network-outbox.js';
import { PharmacyInboxService } from './pharmacy-inbox.service.js';
import { pharmacyReceiver, type PharmacyReceiver } from './pharmacy-receive.js';
import { PharmacySetupService } from './pharmacy-setup.service.js';

export {
  pharmacyReceiver,
  PHARMACY_INBOUND,
  type InboundAnswer,
  type InboundHandler,
  type PharmacyReceiver,
  type ReceiveMeta,
} from './pharmacy-receive.js';
export {
  PHARMACY_ACTIONS,
  PharmacyInboxService,
  type ReceivedPrescription,
} from './pharmacy-inbox.service.js';
export {
  PharmacySetupService,
  checkSenderJwks,
  pharmacyTenantOf,
} from './pharmacy-setup.service.js';
export type { PharmacyActor, RequestMeta } from './pharmacy.types.js';
export { registerPharmacyHandlers } from './pharmacy-network.js';

export interface PharmacyModule {
  readonly receiver: PharmacyReceiver;
  readonly inbox: PharmacyInboxService;
  readonly setup: PharmacySetupService;
}

export interface PharmacyDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly outbox: NetworkOutbox;
}

export function composePharmacy(d: PharmacyDeps): PharmacyModule {
  return {
    receiver: pharmacyReceiver({ keyring: d.keyring, clock: d.clock }),
    inbox: new PharmacyInboxService(d),
    setup: new PharmacySetupService(d.db, d.clock),
  };
}
