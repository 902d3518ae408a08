/**
 * Checks that a received NewRx says what the prescriber signed (21 CFR 1311.205(b)(4),
 * 1311.210): the prescriber system's ES256 JWS over the canonical prescription
 * (src/prescribing/canonical-prescription.ts) is verified against the sender's registered JWKS,
 * then the NewRx XML is compared with the NewRx the signed document maps to (the same mapping
 * the sending side uses, src/network/newrx-message.ts): patient name and date of birth,
 * prescriber (NPI, DEA number, name, address), the whole MedicationPrescribed (drug description,
 * RxNorm code, DEA schedule, quantity and unit, days supply, written date, substitutions,
 * refills, note, sig, earliest fill date), the pharmacy and the prescriber order number. Anything
 * the XML adds, drops or changes is a mismatch. Pure: no I/O.
 */
import { isDeepStrictEqual } from 'node:util';
import { AppError } from '../core/index.js';
import type { Jwks } from '../crypto/jws.js';
import { decodeBase64UrlStrict } from '../crypto/encoding.js';
import {
  verifyPrescriptionJws,
  type CanonicalPrescription,
} from '../prescribing/canonical-prescription.js';
import { parseMessage } from '../network/ncpdp-script.codec.js';
import { newRxMessage, scriptId } from '../network/newrx-message.js';
import type { MessageOf, NewRxBody } from '../network/ncpdp-script.types.js';

/** Why a message was refused: the short token sent as the Error Description and audited. */
export type RejectReason =
  | 'recipient_unknown'
  | 'sender_unknown'
  | 'signature_required'
  | 'signature_invalid'
  | 'content_mismatch'
  | 'duplicate_prescription'
  | 'prescription_unknown';

export type Verification =
  | {
      readonly ok: true;
      readonly document: CanonicalPrescription;
      readonly keyId: string;
    }
  | { readonly ok: false; readonly reason: RejectReason };

/** A valid placeholder NPI for the pharmacy segment of the expected message (not compared). */
const PLACEHOLDER_NPI = '1234567893';

/** The `kid` of a JWS already verified (its protected header). */
function kidOf(jws: string): string {
  const bytes = decodeBase64UrlStrict(jws.trim().split('.')[0] ?? '');
  const header = JSON.parse(Buffer.from(bytes ?? []).toString('utf8')) as { kid?: unknown };
  return typeof header.kid === 'string' ? header.kid : '';
}

/** Verifies `jws` against `jwks` and returns the document, or `signature_invalid`. */
export function verifySignedDocument(jws: string, jwks: Jwks): Verification {
  try {
    const document = verifyPrescriptionJws(jws, jwks);
    return { ok: true, document, keyId: kidOf(jws) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, reason: 'signature_invalid' };
    throw err;
  }
}

/** The NewRx body the signed document maps to, or undefined when it cannot be expressed. */
function expectedBody(
  doc: CanonicalPrescription,
  received: MessageOf<'NewRx'>,
): NewRxBody | undefined {
  try {
    const wire = newRxMessage({
      messageId: '00000000-0000-0000-0000-000000000000',
      payload: { prescription: doc, jws: '' },
      pharmacy: { ncpdpId: doc.pharmacy.ncpdpId, npi: PLACEHOLDER_NPI, name: 'expected' },
      from: received.header.from,
      sentTime: new Date(0),
    });
    const parsed = parseMessage(wire.xml);
    return parsed.ok && parsed.message.type === 'NewRx' ? parsed.message.body : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Compares the received NewRx with the signed document. Gender is not part of the signed
 * document (Scrip sends U), so it is not compared; everything else listed above must be equal.
 */
export function matchesSignedDocument(
  received: MessageOf<'NewRx'>,
  doc: CanonicalPrescription,
): boolean {
  const expected = expectedBody(doc, received);
  if (expected === undefined) return false;
  const got = received.body;
  const gotPatient = { ...got.patient, gender: 'U' };
  const wantPatient = { ...expected.patient, gender: 'U' };
  return (
    received.header.to.qualifier === 'P' &&
    received.header.to.id === doc.pharmacy.ncpdpId &&
    got.pharmacy.ncpdpId === doc.pharmacy.ncpdpId &&
    received.header.prescriberOrderNumber === scriptId(doc.id) &&
    isDeepStrictEqual(gotPatient, wantPatient) &&
    isDeepStrictEqual(got.prescriber, expected.prescriber) &&
    isDeepStrictEqual(got.medicationPrescribed, expected.medicationPrescribed)
  );
}

/** Is the medication a controlled substance (a DEASchedule other than C38046 "unspecified")? */
export function isControlled(body: NewRxBody): boolean {
  const s = body.medicationPrescribed.deaSchedule;
  return s !== undefined && s !== 'C38046';
}
