/**
 * The NCPDP SCRIPT 2017071 NewRx built from an outbox payload (the signed canonical prescription
 * and its JWS, see src/prescribing/prescription.outbox.ts).
 *
 * - Header/MessageID is the outbox row's `message_id` (the idempotency key: a receiver processes
 *   a MessageID once, however often it arrives) written as 32 hex digits without hyphens, because
 *   the SCRIPT identifier type is at most 35 characters and a hyphenated UUID has 36.
 * - Header/PrescriberOrderNumber is the prescription id, in the same form.
 * - Header/DigitalSignature carries the indicator `true` (21 CFR 1311.170: the record was
 *   digitally signed by the prescriber's application). The 2017071 model Scrip uses has no element
 *   for the signature value itself, so the compact JWS (RFC 7515) travels beside the XML in the
 *   HTTP request header {@link JWS_HEADER}; the receiver verifies it against the prescriber
 *   organisation's JWKS and checks that it covers the same prescription (docs/ncpdp-script.md).
 */
import { buildMessage } from './ncpdp-script.codec.js';
import type {
  DeaScheduleCode,
  Medication,
  MessageOf,
  Party,
  SenderSoftware,
} from './ncpdp-script.types.js';
import type { OutboxPayload } from '../prescribing/prescription.outbox.js';

/** HTTP request header carrying the prescription's compact JWS beside the NewRx XML. */
export const JWS_HEADER = 'x-scrip-rx-jws';

/** Scrip as SenderSoftware. */
export const SCRIP_SOFTWARE: SenderSoftware = {
  developer: 'Scrip',
  product: 'Scrip eRx',
  version: '0.1.0',
};

/** What travels: the SCRIPT XML body and the JWS header value. */
export interface NewRxWire {
  readonly xml: string;
  readonly jws: string;
  /** Header MessageID as sent (the answer must relate to it). */
  readonly messageId: string;
}

const SCHEDULE_CODES: Readonly<Record<string, DeaScheduleCode>> = {
  CI: 'C48672',
  CII: 'C48675',
  CIII: 'C48676',
  CIV: 'C48677',
  CV: 'C48679',
};

/** NCI Thesaurus codes of the quantity units Scrip prescribes in (NCPDP QuantityUnitOfMeasure). */
const UNIT_CODES: Readonly<Record<string, string>> = {
  tablet: 'C48542',
  capsule: 'C48480',
  ml: 'C28254',
  mL: 'C28254',
  patch: 'C48524',
  each: 'C64933',
};
const UNSPECIFIED_UNIT = 'C38046';

/** A UUID as a SCRIPT identifier (hyphens removed). */
export function scriptId(uuid: string): string {
  return uuid.replace(/-/g, '');
}

function splitName(full: string): { last: string; first: string } {
  const words = full
    .replace(/^Dr\.?\s+/i, '')
    .trim()
    .split(/\s+/);
  const last = words.pop() ?? full;
  return { last, first: words.join(' ') || last };
}

/** Why a NewRx cannot be built (a permanent failure: retrying will not help). */
export class NewRxBuildError extends Error {
  constructor(readonly reason: 'prescriber_npi_missing' | 'message_invalid') {
    super(`NewRx cannot be built: ${reason}`);
    this.name = 'NewRxBuildError';
  }
}

export interface NewRxInput {
  /** NewRx, or CancelRx (same body in 2017071) for a signed prescription being cancelled. */
  readonly type?: 'NewRx' | 'CancelRx';
  readonly messageId: string;
  readonly payload: OutboxPayload;
  /** The pharmacy as the directory has it (name and NPI are not in the canonical document). */
  readonly pharmacy: { readonly ncpdpId: string; readonly npi: string; readonly name: string };
  readonly from: Party;
  readonly sentTime: Date;
}

/**
 * Builds the NewRx (NCPDP SCRIPT 2017071 NewRx transaction) for a signed prescription; throws
 * {@link NewRxBuildError} when the document cannot be expressed (no prescriber NPI, or a value
 * the codec refuses).
 */
export function newRxMessage(input: NewRxInput): NewRxWire {
  const rx = input.payload.prescription;
  if (rx.prescriber.npi === null) throw new NewRxBuildError('prescriber_npi_missing');
  const schedule =
    rx.medication.deaSchedule === null ? undefined : SCHEDULE_CODES[rx.medication.deaSchedule];
  const medication: Medication = {
    drugDescription: rx.medication.name,
    rxnorm: { code: rx.medication.rxcui, qualifier: 'SCD' },
    ...(schedule === undefined ? {} : { deaSchedule: schedule }),
    quantity: {
      value: String(rx.quantity.value),
      codeListQualifier: '38',
      unitCode: UNIT_CODES[rx.quantity.unit] ?? UNSPECIFIED_UNIT,
    },
    daysSupply: rx.daysSupply,
    writtenDate: rx.issuedAt.slice(0, 10),
    substitutions: rx.substitutionAllowed ? '0' : '1',
    numberOfRefills: rx.refills,
    ...(rx.notesToPharmacist === null ? {} : { note: rx.notesToPharmacist }),
    sig: rx.sig,
    ...(rx.earliestFillDate === null ? {} : { earliestFillDate: rx.earliestFillDate }),
  };
  const a = rx.prescriber.address;
  const message: MessageOf<'NewRx'> | MessageOf<'CancelRx'> = {
    type: input.type ?? 'NewRx',
    header: {
      to: { qualifier: 'P', id: input.pharmacy.ncpdpId },
      from: input.from,
      messageId: scriptId(input.messageId),
      sentTime: input.sentTime.toISOString(),
      senderSoftware: SCRIP_SOFTWARE,
      prescriberOrderNumber: scriptId(rx.id),
      digitalSignature: { version: '1.0', indicator: true },
    },
    body: {
      patient: {
        name: { last: rx.patient.familyName, first: rx.patient.givenName },
        gender: 'U',
        dateOfBirth: rx.patient.birthDate,
      },
      pharmacy: {
        ncpdpId: input.pharmacy.ncpdpId,
        npi: input.pharmacy.npi,
        businessName: input.pharmacy.name,
      },
      prescriber: {
        npi: rx.prescriber.npi,
        ...(rx.prescriber.deaNumber === null ? {} : { deaNumber: rx.prescriber.deaNumber }),
        name: splitName(rx.prescriber.name),
        address: { line1: a.line, city: a.city, state: a.state, postalCode: a.postalCode },
      },
      medicationPrescribed: medication,
    },
  };
  try {
    return {
      xml: buildMessage(message),
      jws: input.payload.jws,
      messageId: message.header.messageId,
    };
  } catch {
    throw new NewRxBuildError('message_invalid');
  }
}
