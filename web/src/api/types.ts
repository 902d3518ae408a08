/**
 * The shapes of the server answers and bodies the app uses. Plain types (no DOM, no server
 * code); test/web/client-types.ts checks each against the server's TypeBox schema at typecheck
 * time (`npm run typecheck`), so a drift on either side fails CI.
 */

export interface PatientSummary {
  id: string;
  view: 'full' | 'dispensing' | 'summary';
  shredded: boolean;
  givenName?: string;
  familyName?: string;
  birthDate?: string;
  mrn?: string;
}

export interface Allergy {
  id: string;
  status: 'active' | 'inactive';
  rxcui?: string;
  substance: string;
  reaction?: string;
  severity?: string;
  recordedAt: string;
}

export interface Medication {
  id: string;
  status: 'active' | 'stopped';
  rxcui?: string;
  ingredientRxcuis: string[];
  name: string;
  dosage?: string;
  startedOn?: string;
  stoppedOn?: string;
  recordedAt: string;
}

export interface PatientFull extends PatientSummary {
  phone?: string;
  address?: string;
  allergies?: Allergy[];
  preferredPharmacy?: { ncpdpId: string };
  identifiers?: { system: string; value: string }[];
  medications?: Medication[];
}

export interface CareTeamMember {
  userId: string;
  displayName: string;
  relation: string;
  addedAt: string;
}

export interface PatientSearchBody {
  familyName?: string;
  birthDate?: string;
  mrn?: string;
  phone?: string;
}

export interface Finding {
  key: string;
  kind: string;
  severity: string;
  message: string;
  overrideReason?: string;
}

export interface RxSummary {
  id: string;
  patientId: string;
  status: string;
  kind: string;
  deaSchedule: string | null;
  drugName: string;
  strength: string;
  createdAt: string;
  signedAt: string | null;
}

export interface Practice {
  name?: string;
  line: string;
  city: string;
  state: string;
  postalCode: string;
  phone?: string;
}

/** The widest view of a prescription: every field beyond the summary may be absent. */
export interface Rx extends RxSummary {
  prescriberId?: string;
  previousId?: string | null;
  drug?: {
    rxcui: string;
    name: string;
    strength: string;
    doseForm: string;
    route: string;
    deaSchedule: string | null;
  };
  quantity?: { value: number; unit: string };
  daysSupply?: number;
  sig?: string;
  refills?: number;
  substitutionAllowed?: boolean;
  earliestFillDate?: string | null;
  notesToPharmacist?: string | null;
  pharmacyNcpdpId?: string;
  practice?: Practice;
  deaNumber?: string | null;
  jws?: string | null;
  keyId?: string | null;
  draftedBy?: string;
  version?: number;
  diagnosis?: { code: string; display?: string } | null;
  findings?: Finding[];
  readyAt?: string | null;
  updatedAt?: string;
  errorCode?: string | null;
}

export interface DraftBody {
  patientId: string;
  prescriberId?: string;
  rxcui: string;
  quantity: { value: number; unit: string };
  daysSupply: number;
  sig: string;
  refills: number;
  substitutionAllowed: boolean;
  diagnosis?: { code: string; display?: string };
  earliestFillDate?: string;
  notesToPharmacist?: string;
  pharmacyNcpdpId: string;
  practice: Practice;
  deaNumber?: string;
}

/**
 * The fields a PATCH, a renewal or a change sends (`PatchBody`): only those to change; a renewal
 * or change copies the rest from the signed original.
 */
export type RxPatch = Partial<Omit<DraftBody, 'patientId' | 'prescriberId'>>;

export interface ReadyBody {
  overrides?: { key: string; reason: string }[];
  deaNumber?: string;
}

export interface EpcsReviewItem {
  id: string;
  status: string;
  dateOfIssue: string;
  patientName: string;
  patientAddress: string;
  drugName: string;
  strength: string;
  dosageForm: string;
  quantity: string;
  directions: string;
  refills: number;
  earliestFillDate: string | null;
  prescriberName: string;
  prescriberAddress: string;
  deaNumber: string | null;
  schedule: string;
}

export interface EpcsReview {
  patientId: string;
  items: EpcsReviewItem[];
  attestation: string;
  deaNumbers: string[];
}

export interface Signed {
  prescription: Rx;
  jws: string;
}

export interface Drug {
  id: string;
  rxcui: string;
  tty: string;
  name: string;
  strength: string | null;
  doseForm: string | null;
  route: string | null;
  deaSchedule: string | null;
  status: string;
}

export interface Pharmacy {
  id: string;
  ncpdpId: string;
  npi: string;
  name: string;
  address: { line: string; city: string; state: string; zip: string };
  phone: string;
  active: boolean;
}

export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** One of my signed-in sessions (GET /api/v1/auth/sessions). */
export interface OwnSession {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  userAgent: string | null;
  ip: string | null;
  /** The session this page is signed in with. */
  current: boolean;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

/** One delivery event (GET /api/v1/prescriptions/:id/delivery). */
export interface DeliveryEvent {
  event: string;
  code: string | null;
  messageId: string | null;
  at: string;
}

export interface DeliveryTimeline {
  prescriptionId: string;
  status: string;
  events: DeliveryEvent[];
}

/** The caller's failed transmissions still to print (GET /api/v1/transmission-failures). */
export interface TransmissionFailures {
  items: { prescriptionId: string; failedAt: string }[];
}

/** A renewal or change request from a pharmacy (GET /api/v1/prescriber-requests). */
export interface PrescriberRequest {
  id: string;
  kind: 'renewal' | 'change';
  status: 'pending' | 'approved' | 'denied';
  prescriptionId: string | null;
  patientId: string | null;
  pharmacy: { ncpdpId: string; name: string };
  drugDescription: string;
  changeCode: string | null;
  receivedAt: string;
  decidedAt: string | null;
  resultPrescriptionId: string | null;
}

/** POST /api/v1/auth/sso/discover: whether an email domain signs in with its organisation's IdP. */
export interface SsoDiscovery {
  sso: boolean;
  tenantId?: string;
  organisation?: string;
  startUrl?: string;
}

/** GET /api/v1/auth/sso/callback and POST /api/v1/auth/sso/complete. */
export interface SsoCallbackAnswer {
  status: 'signed_in' | 'enrolment_required' | 'mfa_required' | 'linked';
  userId?: string;
  tenantId?: string;
  csrfToken?: string;
  expiresAt?: string;
  idleExpiresAt?: string;
}

/** POST /api/v1/auth/sso/complete: the local second factor. */
export interface SsoCompleteBody {
  totp?: string;
  recoveryCode?: string;
}
