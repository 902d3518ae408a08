/**
 * The network node of one installation, composed once (src/platform.ts): tenant identities, the
 * generic outbox, the prescriber queue, the delivery timeline, printed copies of failed transmissions and the inbound dispatcher with its
 * handler registry (clinic handlers built in; the pharmacy side registers its NewRx/CancelRx
 * handlers for To P with {@link NetworkNode.register}).
 */
import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { PatientAccess } from '../access/patient-access.js';
import type { PrescriptionService } from '../prescribing/prescription.service.js';
import type { Actor } from '../prescribing/prescription.types.js';
import { clinicInboundHandlers } from './clinic-inbound.js';
import {
  InboundDispatcher,
  type InboundHandler,
  type InboundHandlers,
} from './inbound-dispatcher.js';
import type { MessageType } from './ncpdp-script.types.js';
import { NetworkIdentityService } from './network-identity.js';
import { TableNetworkOutbox } from './network-outbox.table.js';
import { PrescriberRequestService } from './prescriber-requests.js';
import { PrintCopyService } from './print-copy.js';

export interface NetworkNode {
  readonly identities: NetworkIdentityService;
  readonly outbox: TableNetworkOutbox;
  readonly requests: PrescriberRequestService;
  /** Printed copies of failed transmissions (21 CFR 1311.170(f)). */
  readonly printCopies: PrintCopyService;
  readonly dispatcher: InboundDispatcher;
  /** Adds (or replaces) the handler of `type` for messages To `qualifier`. */
  register(qualifier: 'D' | 'P', type: MessageType, handler: InboundHandler): void;
}

export interface NetworkNodeDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly access: PatientAccess;
  readonly rx: Pick<PrescriptionService, 'advanceIn' | 'deriveIn'>;
  /** How long the network outbox keeps trying a message (SCRIP_NETWORK_DEADLINE_HOURS). */
  readonly deadlineMs?: number;
}

export function composeNetworkNode(d: NetworkNodeDeps): NetworkNode {
  const outbox = new TableNetworkOutbox(d.keyring, d.clock, d.deadlineMs);
  const handlers: { D: InboundHandlers['D']; P: InboundHandlers['P'] } = {
    D: { ...clinicInboundHandlers({ clock: d.clock, keyring: d.keyring, rx: d.rx }) },
    P: {},
  };
  return {
    identities: new NetworkIdentityService(d.db, d.keyring, d.clock),
    outbox,
    requests: new PrescriberRequestService({
      db: d.db,
      keyring: d.keyring,
      clock: d.clock,
      access: d.access,
      outbox,
      renew: async (tx, actor, prescriptionId) => {
        const who: Actor = { ...actor };
        return d.rx.deriveIn(tx, who, prescriptionId, 'renewal', {}, {});
      },
    }),
    printCopies: new PrintCopyService({ db: d.db, keyring: d.keyring, clock: d.clock }),
    dispatcher: new InboundDispatcher({ db: d.db, clock: d.clock, handlers }),
    register(qualifier, type, handler) {
      handlers[qualifier] = { ...handlers[qualifier], [type]: handler };
    },
  };
}
