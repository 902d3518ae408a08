/**
 * The pharmacist's actions as pure steps (issue 8 item 6): each checks the state of the received
 * prescription and says what to record, which SCRIPT message to send and the next state. The
 * inbox service runs a step inside the transaction that locks the prescription, records the
 * action, enqueues the message and audits.
 *
 * State machine: received → accepted → partially_dispensed → dispensed (further fills up to the
 * refills authorised); a CancelRx sets cancel requested, answered approved (→ cancelled) or
 * denied. Anything else is `conflict`.
 */
import { AppError } from '../core/index.js';
import type { Medication, NewRxBody } from '../network/ncpdp-script.types.js';
import {
  PHARMACY_RX_ACCEPTED,
  PHARMACY_RX_CANCEL_ANSWERED,
  PHARMACY_RX_CHANGE_REQUESTED,
  PHARMACY_RX_FILLED,
  PHARMACY_RX_RENEWAL_REQUESTED,
} from '../monitoring/actions.js';
import type { Outgoing } from './pharmacy-messages.js';
import {
  DECIMAL_RE,
  units,
  type ActionKind,
  type CancelAnswer,
  type ChangeInput,
  type DispenseInput,
  type InboxRow,
  type ReceivedPrescription,
} from './pharmacy-inbox.model.js';
import type { CancelStatus, InboxStatus } from './pharmacy.types.js';

/** What one action does. */
export interface ActionStep {
  readonly kind: ActionKind;
  /** Audit action name. */
  readonly audit: string;
  readonly message: Outgoing;
  /** The message answered when not the NewRx (the CancelRx of a CancelRxResponse). */
  readonly relatesTo?: string;
  readonly next?: { readonly status?: InboxStatus; readonly cancelStatus?: CancelStatus };
  /** Sealed with the action record (quantities, notes, reasons: PHI). */
  readonly detail: Readonly<Record<string, unknown>>;
  /** Codes only, for the audit record. */
  readonly auditDetails?: Readonly<Record<string, string | number | boolean>>;
}

function conflict(message: string, detail: string): AppError {
  return new AppError('conflict', message, { detail });
}

/** The NewRx body of a readable received prescription (the service checks it first). */
function prescribedOf(current: ReceivedPrescription): Medication {
  return (current.body as NewRxBody).medicationPrescribed;
}

/** Accept: a Status 000 "accepted by pharmacy" to the prescriber. */
export function acceptStep(row: InboxRow): ActionStep {
  if (row.status !== 'received' || row.cancel_status === 'requested') {
    throw conflict('only a received prescription can be accepted', row.status);
  }
  return {
    kind: 'accept',
    audit: PHARMACY_RX_ACCEPTED,
    message: { type: 'Status', description: 'accepted by pharmacy' },
    next: { status: 'accepted' },
    detail: {},
  };
}

/** Checks a fill quantity before any transaction starts (400 on bad input). */
export function checkDispenseInput(input: DispenseInput): void {
  if (!DECIMAL_RE.test(input.quantity) || !/[1-9]/.test(input.quantity)) {
    throw new AppError('validation_failed', 'quantity must be a decimal greater than zero', {
      detail: 'quantity',
    });
  }
}

/**
 * A fill: RxFill Dispensed, or PartiallyDispensed while the total is below the prescribed
 * quantity. The total may not exceed the quantity times (1 + refills).
 */
export function dispenseStep(
  row: InboxRow,
  current: ReceivedPrescription,
  input: DispenseInput,
): ActionStep {
  const fillable = ['accepted', 'partially_dispensed', 'dispensed'];
  if (!fillable.includes(row.status) || row.cancel_status === 'requested') {
    throw conflict('the prescription cannot be dispensed in its state', row.status);
  }
  const prescribed = prescribedOf(current);
  const perFill = units(prescribed.quantity.value);
  const allowed = perFill * BigInt(1 + prescribed.numberOfRefills);
  const total = units(current.quantityDispensed) + units(input.quantity);
  if (total > allowed) {
    throw conflict('the quantity exceeds what the prescription authorises', 'quantity');
  }
  const partial = total < perFill;
  const fillStatus = partial ? 'PartiallyDispensed' : 'Dispensed';
  const extra = {
    ...(input.ndc === undefined ? {} : { ndc: input.ndc }),
    ...(input.daysSupply === undefined ? {} : { daysSupply: input.daysSupply }),
  };
  return {
    kind: 'fill',
    audit: PHARMACY_RX_FILLED,
    message: {
      type: 'RxFill',
      status: fillStatus,
      ...(input.note === undefined ? {} : { note: input.note }),
      dispensed: {
        ...prescribed,
        quantity: { ...prescribed.quantity, value: input.quantity },
        ...extra,
      },
    },
    next: { status: partial ? 'partially_dispensed' : 'dispensed' },
    detail: {
      quantity: input.quantity,
      ...extra,
      ...(input.note === undefined ? {} : { note: input.note }),
      fillStatus,
    },
    auditDetails: { fillStatus },
  };
}

/** The answer to a CancelRx: CancelRxResponse Approved (→ cancelled) or Denied. */
export function cancelResponseStep(
  row: InboxRow,
  input: CancelAnswer,
  cancelMessageId: string | undefined,
): ActionStep {
  if (row.cancel_status !== 'requested') {
    throw conflict('no cancellation is waiting for an answer', row.cancel_status);
  }
  if (input.decision === 'approve' && row.status === 'dispensed') {
    throw conflict('a dispensed prescription cannot be cancelled; deny it', row.status);
  }
  return {
    kind: 'cancel_response',
    audit: PHARMACY_RX_CANCEL_ANSWERED,
    ...(cancelMessageId === undefined ? {} : { relatesTo: cancelMessageId }),
    message: {
      type: 'CancelRxResponse',
      response:
        input.decision === 'approve'
          ? { kind: 'Approved', ...(input.note === undefined ? {} : { note: input.note }) }
          : {
              kind: 'Denied',
              reasonCode: input.reasonCode,
              ...(input.reason === undefined ? {} : { reason: input.reason }),
            },
    },
    next:
      input.decision === 'approve'
        ? { status: 'cancelled', cancelStatus: 'approved' }
        : { cancelStatus: 'denied' },
    detail: { ...input },
    auditDetails: { decision: input.decision },
  };
}

/** A renewal request for a dispensed prescription (RxRenewalRequest). */
export function renewalStep(
  row: InboxRow,
  current: ReceivedPrescription,
  input: { readonly note?: string },
): ActionStep {
  if (row.status !== 'dispensed' && row.status !== 'partially_dispensed') {
    throw conflict('only a dispensed prescription can be renewed', row.status);
  }
  const prescribed = prescribedOf(current);
  return {
    kind: 'renewal_request',
    audit: PHARMACY_RX_RENEWAL_REQUESTED,
    message: {
      type: 'RxRenewalRequest',
      dispensed: {
        ...prescribed,
        quantity: { ...prescribed.quantity, value: current.quantityDispensed },
        ...(input.note === undefined ? {} : { note: input.note }),
      },
    },
    detail: { ...(input.note === undefined ? {} : { note: input.note }) },
  };
}

/** Checks a change request before any transaction starts (400 on bad input). */
export function checkChangeInput(input: ChangeInput): void {
  if ((input.code === 'G' || input.code === 'T') && input.requested.length === 0) {
    throw new AppError('validation_failed', 'a generic or therapeutic change names the drug', {
      detail: 'requested',
    });
  }
}

/** A change request (RxChangeRequest with its MessageRequestCode and the requested drugs). */
export function changeStep(
  row: InboxRow,
  current: ReceivedPrescription,
  input: ChangeInput,
): ActionStep {
  if (row.status === 'cancelled' || row.status === 'dispensed') {
    throw conflict('the prescription cannot be changed in its state', row.status);
  }
  const prescribed = prescribedOf(current);
  const requested: Medication[] = input.requested.map((r) => {
    const daysSupply = r.daysSupply ?? prescribed.daysSupply;
    return {
      drugDescription: r.drugDescription,
      ...(r.ndc === undefined ? {} : { ndc: r.ndc }),
      ...(r.rxnorm === undefined ? {} : { rxnorm: { code: r.rxnorm, qualifier: 'SCD' as const } }),
      ...(prescribed.deaSchedule === undefined ? {} : { deaSchedule: prescribed.deaSchedule }),
      quantity: { ...prescribed.quantity, value: r.quantity ?? prescribed.quantity.value },
      ...(daysSupply === undefined ? {} : { daysSupply }),
      writtenDate: prescribed.writtenDate,
      substitutions: prescribed.substitutions,
      numberOfRefills: prescribed.numberOfRefills,
      ...(r.note === undefined ? {} : { note: r.note }),
      sig: r.sig ?? prescribed.sig,
    };
  });
  return {
    kind: 'change_request',
    audit: PHARMACY_RX_CHANGE_REQUESTED,
    message: { type: 'RxChangeRequest', code: input.code, requested },
    detail: { code: input.code, requested: input.requested },
    auditDetails: { code: input.code },
  };
}
