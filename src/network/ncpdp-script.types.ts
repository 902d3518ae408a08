/**
 * Typed models of the NCPDP SCRIPT Standard 2017071 messages Scrip exchanges (the version named
 * by 42 CFR 423.160(b)(1) until 2028). Only the elements Scrip uses are modelled; the element
 * names and their order follow the 2017071 XML structures (see docs/ncpdp-script.md for what is
 * left out and where the model deviates). Every value here is already validated text: dates are
 * `YYYY-MM-DD` or ISO 8601 date-times with an offset, decimals are canonical decimal strings.
 */

/** The 2017071 transport/structures/datatypes/ECL version attribute value on `<Message>`. */
export const SCRIPT_VERSION = '20170715';

/** Every message type the codec builds and parses; anything else is refused. */
export const MESSAGE_TYPES = [
  'NewRx',
  'CancelRx',
  'CancelRxResponse',
  'RxRenewalRequest',
  'RxRenewalResponse',
  'RxChangeRequest',
  'RxChangeResponse',
  'RxFill',
  'Status',
  'Verify',
  'Error',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * Header `To`/`From` Qualifier: P pharmacy (NCPDP ID), D prescriber system, C clinic, M mailbox
 * (intermediary), ZZZ mutually defined.
 */
export const PARTY_QUALIFIERS = ['P', 'D', 'C', 'M', 'ZZZ'] as const;
export type PartyQualifier = (typeof PARTY_QUALIFIERS)[number];

export interface Party {
  readonly qualifier: PartyQualifier;
  readonly id: string;
}

export interface SenderSoftware {
  readonly developer: string;
  readonly product: string;
  readonly version: string;
}

/** SCRIPT 2017071 Header. */
export interface Header {
  readonly to: Party;
  readonly from: Party;
  readonly messageId: string;
  readonly relatesToMessageId?: string;
  /** ISO 8601 date-time with `Z` or an offset. */
  readonly sentTime: string;
  readonly senderSoftware: SenderSoftware;
  readonly prescriberOrderNumber?: string;
  /** Header DigitalSignature: the indicator that the prescription was digitally signed (EPCS). */
  readonly digitalSignature?: { readonly version: string; readonly indicator: boolean };
}

export interface PersonName {
  readonly last: string;
  readonly first: string;
  readonly middle?: string;
}

export interface Address {
  readonly line1: string;
  readonly line2?: string;
  readonly city: string;
  /** Two-letter state or province code. */
  readonly state: string;
  /** Five or nine digits. */
  readonly postalCode: string;
  readonly countryCode?: string;
}

export type Gender = 'M' | 'F' | 'U';

/** Patient/HumanPatient. */
export interface Patient {
  readonly name: PersonName;
  readonly gender: Gender;
  /** YYYY-MM-DD. */
  readonly dateOfBirth: string;
  readonly address?: Address;
  /** Ten digits (CommunicationNumbers/PrimaryTelephone/Number). */
  readonly phone?: string;
}

export interface Pharmacy {
  /** Seven digits. */
  readonly ncpdpId: string;
  readonly npi?: string;
  readonly businessName: string;
  readonly address?: Address;
  readonly phone?: string;
}

/** Prescriber/NonVeterinarian. */
export interface Prescriber {
  readonly npi: string;
  readonly deaNumber?: string;
  readonly stateLicenseNumber?: string;
  readonly name: PersonName;
  readonly address?: Address;
  readonly phone?: string;
}

/**
 * DEASchedule Code: NCI Thesaurus concepts of the FDA SPL DEA schedule list (C48670):
 * CI C48672, CII C48675, CIII C48676, CIV C48677, CV C48679; C38046 "unspecified" (not controlled).
 */
export const DEA_SCHEDULE_CODES = {
  C48672: 'CI',
  C48675: 'CII',
  C48676: 'CIII',
  C48677: 'CIV',
  C48679: 'CV',
  C38046: 'unspecified',
} as const;
export type DeaScheduleCode = keyof typeof DEA_SCHEDULE_CODES;

/** DrugDBCode Qualifier values for RxNorm concepts. */
export const RXNORM_QUALIFIERS = ['SCD', 'SBD', 'GPK', 'BPK'] as const;
export type RxNormQualifier = (typeof RXNORM_QUALIFIERS)[number];

/**
 * Quantity CodeListQualifier: 38 original quantity, 40 remaining quantity, 87 quantity received,
 * QS quantity sufficient, CF compound final quantity.
 */
export const QUANTITY_QUALIFIERS = ['38', '40', '87', 'QS', 'CF'] as const;
export type QuantityQualifier = (typeof QUANTITY_QUALIFIERS)[number];

export interface Quantity {
  /** Canonical decimal, greater than zero. */
  readonly value: string;
  readonly codeListQualifier: QuantityQualifier;
  /** NCI Thesaurus unit code (QuantityUnitOfMeasure), e.g. C48542 tablet, C28254 mL. */
  readonly unitCode: string;
}

/** MedicationPrescribed (also MedicationDispensed and MedicationRequested, same shape here). */
export interface Medication {
  readonly drugDescription: string;
  /** NDC-11, ProductCode with Qualifier ND. */
  readonly ndc?: string;
  readonly strength?: { readonly value: string; readonly unitCode: string };
  readonly rxnorm?: { readonly code: string; readonly qualifier: RxNormQualifier };
  readonly deaSchedule?: DeaScheduleCode;
  readonly quantity: Quantity;
  readonly daysSupply?: number;
  /** YYYY-MM-DD or a date-time with offset (WrittenDate/Date or WrittenDate/DateTime). */
  readonly writtenDate: string;
  /** Substitutions code, one digit (0 allowed, 1 not allowed by prescriber). */
  readonly substitutions: string;
  readonly numberOfRefills: number;
  readonly note?: string;
  readonly sig: string;
  /** 21 CFR 1306.12(b): do not fill before (OtherMedicationDate, qualifier EffectiveDate). */
  readonly earliestFillDate?: string;
}

/** Response element of the response messages. */
export type Decision =
  | { readonly kind: 'Approved'; readonly note?: string }
  | { readonly kind: 'ApprovedWithChanges'; readonly note?: string }
  | { readonly kind: 'Replace'; readonly note?: string }
  | { readonly kind: 'Denied'; readonly reasonCode: string; readonly reason?: string };

export interface Parties {
  readonly patient: Patient;
  readonly pharmacy: Pharmacy;
  readonly prescriber: Prescriber;
}

export interface NewRxBody extends Parties {
  readonly medicationPrescribed: Medication;
}
export type CancelRxBody = NewRxBody;
export interface CancelRxResponseBody extends NewRxBody {
  readonly response: Decision;
}
export interface RxRenewalRequestBody extends Parties {
  readonly medicationDispensed: Medication;
  readonly medicationPrescribed?: Medication;
}
export interface RxRenewalResponseBody extends NewRxBody {
  readonly response: Decision;
}
/** MessageRequestCode: G generic, T therapeutic, P prior authorization, U DUE, S clarification, OS out of stock. */
export const CHANGE_REQUEST_CODES = ['G', 'T', 'P', 'U', 'S', 'OS', 'D'] as const;
export type ChangeRequestCode = (typeof CHANGE_REQUEST_CODES)[number];
export interface RxChangeRequestBody extends NewRxBody {
  readonly messageRequestCode: ChangeRequestCode;
  readonly medicationRequested: readonly Medication[];
}
export interface RxChangeResponseBody extends NewRxBody {
  readonly messageRequestCode: ChangeRequestCode;
  readonly response: Decision;
}
export const FILL_STATUSES = [
  'Dispensed',
  'PartiallyDispensed',
  'NotDispensed',
  'Transferred',
] as const;
export type FillStatus = (typeof FILL_STATUSES)[number];
export interface RxFillBody extends NewRxBody {
  readonly fillStatus: { readonly kind: FillStatus; readonly note?: string };
  readonly medicationDispensed?: Medication;
}
/** Status / VerifyStatus Code: 000 transaction successful, 010 accepted by an intermediary. */
export const STATUS_CODES = ['000', '010'] as const;
export type StatusCode = (typeof STATUS_CODES)[number];
export interface StatusBody {
  readonly code: StatusCode;
  readonly description?: string;
}
export type VerifyBody = StatusBody;
/**
 * Error Code: 600 communication problem (try again later), 601 receiver unable to process,
 * 602 receiver system error, 900 transaction rejected.
 */
export const ERROR_CODES = ['600', '601', '602', '900'] as const;
export type ScriptErrorCode = (typeof ERROR_CODES)[number];
export interface ErrorBody {
  readonly code: ScriptErrorCode;
  readonly descriptionCode?: string;
  readonly description?: string;
}

export interface Bodies {
  NewRx: NewRxBody;
  CancelRx: CancelRxBody;
  CancelRxResponse: CancelRxResponseBody;
  RxRenewalRequest: RxRenewalRequestBody;
  RxRenewalResponse: RxRenewalResponseBody;
  RxChangeRequest: RxChangeRequestBody;
  RxChangeResponse: RxChangeResponseBody;
  RxFill: RxFillBody;
  Status: StatusBody;
  Verify: VerifyBody;
  Error: ErrorBody;
}

/** One SCRIPT message: the header and the body of its type (a discriminated union on `type`). */
export type ScriptMessage = {
  [K in MessageType]: { readonly type: K; readonly header: Header; readonly body: Bodies[K] };
}[MessageType];

/** The message of one type. */
export type MessageOf<K extends MessageType> = Extract<ScriptMessage, { type: K }>;
