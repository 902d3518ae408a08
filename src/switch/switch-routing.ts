/**
 * The switch's routing checks, each a small named step over an already-parsed SCRIPT message
 * (NCPDP SCRIPT 2017071 Header To/From addressing; issue 8 item 5): the sender owns Header From,
 * the message goes in its direction (prescriber system → pharmacy or back), a participant owns
 * Header To, the recipient takes the transaction (service level), and every NewRx carries a
 * prescriber signature that verifies against the sender's registered JWKS and covers this very
 * prescription, its DEA schedule included (so a controlled one cannot pass as unsigned by
 * dropping DEASchedule) (21 CFR 1311.170; DEA requires the intermediary to pass the
 * record unaltered, and Scrip's switch refuses one whose signature does not hold).
 */
import { canonicalize } from '../crypto/jcs.js';
import { verifyCompactJws } from '../crypto/jws.js';
import type { MessageType, ScriptMessage } from '../network/ncpdp-script.types.js';
import type { Participant, SwitchAddress, SwitchServiceLevel } from './participants.js';

/** Why the switch refuses a message (audited; the sender gets Error 900). */
export type RouteRefusal =
  | 'from_not_owned'
  | 'wrong_direction'
  | 'unknown_recipient'
  | 'not_supported'
  | 'signature_missing'
  | 'signature_invalid'
  | 'signature_mismatch';

/** Refusal → Error DescriptionCode (provisional, like the codec's, docs/switch.md). */
export const REFUSAL_DESCRIPTIONS: Readonly<
  Record<RouteRefusal, { descriptionCode: string; description: string }>
> = {
  from_not_owned: { descriptionCode: '004', description: 'sender does not own the From address' },
  wrong_direction: {
    descriptionCode: '003',
    description: 'message type not allowed in this direction',
  },
  unknown_recipient: { descriptionCode: '005', description: 'recipient unknown to the switch' },
  not_supported: {
    descriptionCode: '003',
    description: 'recipient does not support this transaction',
  },
  signature_missing: { descriptionCode: '006', description: 'prescriber signature missing' },
  signature_invalid: {
    descriptionCode: '006',
    description: 'prescriber signature does not verify',
  },
  signature_mismatch: {
    descriptionCode: '006',
    description: 'prescriber signature does not cover this prescription',
  },
};

/** Prescriber system → pharmacy transactions. */
const TO_PHARMACY: readonly MessageType[] = [
  'NewRx',
  'CancelRx',
  'RxRenewalResponse',
  'RxChangeResponse',
];
/** Pharmacy → prescriber system transactions. */
const TO_PRESCRIBER: readonly MessageType[] = [
  'CancelRxResponse',
  'RxRenewalRequest',
  'RxChangeRequest',
  'RxFill',
];

/** Answers (Status, Verify, Error) travel either way and are never answered themselves. */
export function isAnswer(type: MessageType): boolean {
  return type === 'Status' || type === 'Verify' || type === 'Error';
}

export function addressKey(a: SwitchAddress): string {
  return `${a.qualifier}:${a.value}`;
}

/** Header To/From as a routable address (P or D), or undefined for any other qualifier. */
export function routable(party: { qualifier: string; id: string }): SwitchAddress | undefined {
  return party.qualifier === 'P' || party.qualifier === 'D'
    ? { qualifier: party.qualifier, value: party.id }
    : undefined;
}

/** Is the prescribed medication a controlled substance (DEASchedule CI–CV)? */
export function isControlled(m: ScriptMessage): boolean {
  if (!('medicationPrescribed' in m.body)) return false;
  const code = m.body.medicationPrescribed?.deaSchedule;
  return code !== undefined && code !== 'C38046';
}

export function ownsFrom(sender: Participant, m: ScriptMessage): boolean {
  const from = routable(m.header.from);
  return from !== undefined && sender.addresses.some((a) => addressKey(a) === addressKey(from));
}

export function directionAllowed(m: ScriptMessage): boolean {
  const { from, to } = m.header;
  if (TO_PHARMACY.includes(m.type)) return from.qualifier === 'D' && to.qualifier === 'P';
  if (TO_PRESCRIBER.includes(m.type)) return from.qualifier === 'P' && to.qualifier === 'D';
  return (
    (from.qualifier === 'D' && to.qualifier === 'P') ||
    (from.qualifier === 'P' && to.qualifier === 'D')
  );
}

/**
 * Service levels the recipient must have: new (NewRx, RxFill), cancel (CancelRx and its
 * response), renewal, change; plus controlled when a message to a pharmacy prescribes a
 * controlled substance. Answers need none.
 */
export function requiredLevels(m: ScriptMessage): SwitchServiceLevel[] {
  const base: Partial<Record<MessageType, SwitchServiceLevel>> = {
    NewRx: 'new',
    RxFill: 'new',
    CancelRx: 'cancel',
    CancelRxResponse: 'cancel',
    RxRenewalRequest: 'renewal',
    RxRenewalResponse: 'renewal',
    RxChangeRequest: 'change',
    RxChangeResponse: 'change',
  };
  const level = base[m.type];
  const out: SwitchServiceLevel[] = level === undefined ? [] : [level];
  if (TO_PHARMACY.includes(m.type) && isControlled(m)) out.push('controlled');
  return out;
}

export function supports(recipient: Participant, m: ScriptMessage): boolean {
  return requiredLevels(m).every((l) => recipient.serviceLevels.includes(l));
}

/** JWS typ of Scrip prescriptions (src/prescribing/canonical-prescription.ts RX_JWS_TYP). */
const RX_JWS_TYP = 'scrip-rx+jws';
const SCHEDULE_CODES: Readonly<Record<string, string>> = {
  CI: 'C48672',
  CII: 'C48675',
  CIII: 'C48676',
  CIV: 'C48677',
  CV: 'C48679',
};

/**
 * Verifies the prescription JWS of a NewRx against the sender's JWKS (ES256 only,
 * `typ: scrip-rx+jws`, the payload exactly its RFC 8785 canonical form), then checks that it
 * covers this message: the prescription id is the Header PrescriberOrderNumber, the pharmacy is
 * Header To, and MedicationPrescribed carries the signed DEA schedule (none, or C38046
 * "unspecified", only when the signed prescription has none).
 */
export function checkPrescriberSignature(
  sender: Participant,
  m: ScriptMessage,
  jws: string | undefined,
): RouteRefusal | undefined {
  if (jws === undefined || jws === '') return 'signature_missing';
  if (sender.jwks === undefined) return 'signature_invalid';
  let payload: Buffer;
  try {
    payload = verifyCompactJws(jws, sender.jwks, { typ: RX_JWS_TYP }).payload;
  } catch {
    return 'signature_invalid';
  }
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'signature_invalid';
  }
  if (typeof doc !== 'object' || doc === null || canonicalize(doc) !== payload.toString('utf8')) {
    return 'signature_invalid';
  }
  const rx = doc as {
    id?: unknown;
    pharmacy?: { ncpdpId?: unknown };
    medication?: { deaSchedule?: unknown };
  };
  const signed = rx.medication?.deaSchedule;
  const body = 'medicationPrescribed' in m.body ? m.body.medicationPrescribed : undefined;
  const sameSchedule =
    signed === null
      ? !isControlled(m)
      : typeof signed === 'string' &&
        SCHEDULE_CODES[signed] !== undefined &&
        SCHEDULE_CODES[signed] === body?.deaSchedule;
  const sameRx =
    typeof rx.id === 'string' &&
    rx.id.replace(/-/g, '') === m.header.prescriberOrderNumber &&
    rx.pharmacy?.ncpdpId === m.header.to.id &&
    sameSchedule;
  return sameRx ? undefined : 'signature_mismatch';
}
