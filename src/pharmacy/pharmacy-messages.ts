/**
 * The SCRIPT messages a pharmacy sends back to the prescriber system (NCPDP SCRIPT 2017071),
 * built with the codec from the received NewRx: Status (accepted by the pharmacist), RxFill
 * (Dispensed / PartiallyDispensed with MedicationDispensed), CancelRxResponse (Approved /
 * Denied), RxRenewalRequest and RxChangeRequest. Addressed To qualifier D (the sender of the
 * NewRx), From qualifier P (the pharmacy's NCPDP ID), RelatesToMessageID the message answered.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../core/index.js';
import { buildMessage } from '../network/ncpdp-script.codec.js';
import { SCRIP_SOFTWARE, scriptId } from '../network/newrx-message.js';
import type { OutgoingScriptMessage } from '../network/network-outbox.js';
import type {
  ChangeRequestCode,
  Decision,
  FillStatus,
  Header,
  Medication,
  NewRxBody,
  ScriptMessage,
} from '../network/ncpdp-script.types.js';

/** What an outgoing message answers: the received prescription's addressing. */
export interface Thread {
  readonly senderId: string;
  readonly ncpdpId: string;
  /** The message answered (NewRx, or CancelRx for a CancelRxResponse). */
  readonly relatesTo: string;
  readonly prescriberOrderNumber: string | null;
  readonly body: NewRxBody;
}

export type Outgoing =
  | { readonly type: 'Status'; readonly description: string }
  | {
      readonly type: 'RxFill';
      readonly status: FillStatus;
      readonly note?: string;
      readonly dispensed: Medication;
    }
  | { readonly type: 'CancelRxResponse'; readonly response: Decision }
  | { readonly type: 'RxRenewalRequest'; readonly dispensed: Medication }
  | {
      readonly type: 'RxChangeRequest';
      readonly code: ChangeRequestCode;
      readonly requested: readonly Medication[];
    };

function header(t: Thread, messageId: string, now: Date): Header {
  return {
    to: { qualifier: 'D', id: t.senderId },
    from: { qualifier: 'P', id: t.ncpdpId },
    messageId,
    relatesToMessageId: t.relatesTo,
    sentTime: now.toISOString(),
    senderSoftware: SCRIP_SOFTWARE,
    ...(t.prescriberOrderNumber === null ? {} : { prescriberOrderNumber: t.prescriberOrderNumber }),
  };
}

function model(t: Thread, o: Outgoing, h: Header): ScriptMessage {
  const b = t.body;
  switch (o.type) {
    case 'Status':
      return { type: 'Status', header: h, body: { code: '000', description: o.description } };
    case 'RxFill':
      return {
        type: 'RxFill',
        header: h,
        body: {
          ...b,
          fillStatus: { kind: o.status, ...(o.note === undefined ? {} : { note: o.note }) },
          medicationDispensed: o.dispensed,
        },
      };
    case 'CancelRxResponse':
      return { type: 'CancelRxResponse', header: h, body: { ...b, response: o.response } };
    case 'RxRenewalRequest':
      return {
        type: 'RxRenewalRequest',
        header: h,
        body: {
          patient: b.patient,
          pharmacy: b.pharmacy,
          prescriber: b.prescriber,
          medicationDispensed: o.dispensed,
          medicationPrescribed: b.medicationPrescribed,
        },
      };
    case 'RxChangeRequest':
      return {
        type: 'RxChangeRequest',
        header: h,
        body: { ...b, messageRequestCode: o.code, medicationRequested: o.requested },
      };
  }
}

/**
 * Builds one outgoing message. A value the codec refuses (e.g. a note with a control character)
 * is the caller's bad input: `validation_failed`, nothing sent.
 */
export function outgoing(t: Thread, o: Outgoing, now: Date): OutgoingScriptMessage {
  const messageId = scriptId(randomUUID());
  let xml: string;
  try {
    xml = buildMessage(model(t, o, header(t, messageId, now)));
  } catch (err) {
    if (err instanceof TypeError) {
      throw new AppError('validation_failed', 'the message cannot be built from this input', {
        detail: 'message',
      });
    }
    throw err;
  }
  return {
    type: o.type,
    to: { qualifier: 'D', value: t.senderId },
    from: { qualifier: 'P', value: t.ncpdpId },
    messageId,
    relatesToMessageId: t.relatesTo,
    xml,
  };
}
