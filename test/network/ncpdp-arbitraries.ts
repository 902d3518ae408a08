import fc from 'fast-check';
import { npiCheckDigit } from '../../src/identity/npi.js';
import { deaCheckDigit } from '../../src/identity/dea.js';
import {
  CHANGE_REQUEST_CODES,
  DEA_SCHEDULE_CODES,
  ERROR_CODES,
  FILL_STATUSES,
  PARTY_QUALIFIERS,
  QUANTITY_QUALIFIERS,
  RXNORM_QUALIFIERS,
  STATUS_CODES,
  type Address,
  type DeaScheduleCode,
  type Decision,
  type Header,
  type Medication,
  type NewRxBody,
  type ScriptMessage,
} from '../../src/network/ncpdp-script.types.js';

/** fast-check arbitraries for valid SCRIPT 2017071 message models (round-trip properties). */

const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(a, { nil: undefined });

/** Removes undefined keys so models compare like parsed ones. */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// Text with XML metacharacters and non-ASCII, trimmed, without control characters.
const CHARS = ['a', 'b', 'c', 'X', 'Z', '0', '9', ' ', '.', ',', ';', '-', '/', '(', '<', '>'];
CHARS.push('&', '"', "'", '#', '%', 'é', '中', '😀');
export const text = (max: number): fc.Arbitrary<string> =>
  fc
    .array(fc.constantFrom(...CHARS), { minLength: 1, maxLength: Math.min(max, 40) })
    .map((cs) => cs.join('').trim())
    .filter((s) => s.length >= 1 && s.length <= max);

const digits = (n: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));
const npi = digits(8)
  .map((d) => `1${d}`)
  .map((b) => `${b}${npiCheckDigit(b)}`);
const dea = fc
  .tuple(fc.constantFrom('A', 'B', 'F', 'M'), fc.constantFrom('S', 'J', '9'), digits(6))
  .map(([a, b, d]) => `${a}${b}${d}${deaCheckDigit(d)}`);
const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,34}$/);
const date = fc
  .date({
    min: new Date('1900-01-01T00:00:00Z'),
    max: new Date('2199-12-31T00:00:00Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString().slice(0, 10));
const dateTime = fc
  .tuple(
    fc.date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2099-12-31T00:00:00Z'),
      noInvalidDate: true,
    }),
    fc.constantFrom('Z', '+01:00', '-05:00', '+14:00'),
  )
  .map(([d, z]) => d.toISOString().slice(0, 19) + z);
const decimal = fc
  .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 999 }))
  .filter(([i, f]) => i > 0 || f > 0)
  .map(([i, f]) => (f === 0 ? String(i) : `${i}.${String(f).padStart(3, '0')}`.replace(/0+$/, '')));

const address: fc.Arbitrary<Address> = fc
  .record({
    line1: text(40),
    line2: opt(text(40)),
    city: text(35),
    state: fc.stringMatching(/^[A-Z]{2}$/),
    postalCode: fc.oneof(digits(5), digits(9)),
    countryCode: opt(fc.constant('US')),
  })
  .map(clean);
const name = fc.record({ last: text(35), first: text(35), middle: opt(text(35)) }).map(clean);
const phone = digits(10);

export const medication: fc.Arbitrary<Medication> = fc
  .record({
    drugDescription: text(105),
    ndc: opt(digits(11)),
    strength: opt(fc.record({ value: decimal, unitCode: fc.constantFrom('C28253', 'C28254') })),
    rxnorm: opt(
      fc.record({
        code: fc.integer({ min: 1, max: 99_999_999 }).map(String),
        qualifier: fc.constantFrom(...RXNORM_QUALIFIERS),
      }),
    ),
    deaSchedule: opt(fc.constantFrom(...(Object.keys(DEA_SCHEDULE_CODES) as DeaScheduleCode[]))),
    quantity: fc.record({
      value: decimal,
      codeListQualifier: fc.constantFrom(...QUANTITY_QUALIFIERS),
      unitCode: fc.constantFrom('C48542', 'C28254', 'C48480'),
    }),
    daysSupply: opt(fc.integer({ min: 1, max: 999 })),
    writtenDate: fc.oneof(date, dateTime),
    substitutions: fc.constantFrom('0', '1'),
    numberOfRefills: fc.integer({ min: 0, max: 99 }),
    note: opt(text(210)),
    sig: text(1000),
    earliestFillDate: opt(date),
  })
  .map(clean);

const header: fc.Arbitrary<Header> = fc
  .record({
    to: fc.record({ qualifier: fc.constantFrom(...PARTY_QUALIFIERS), id }),
    from: fc.record({ qualifier: fc.constantFrom(...PARTY_QUALIFIERS), id }),
    messageId: id,
    relatesToMessageId: opt(id),
    sentTime: dateTime,
    senderSoftware: fc.record({ developer: text(35), product: text(35), version: text(10) }),
    prescriberOrderNumber: opt(id),
    digitalSignature: opt(fc.record({ version: fc.constant('1.1'), indicator: fc.boolean() })),
  })
  .map(clean);

const parties: fc.Arbitrary<NewRxBody> = fc.record({
  patient: fc
    .record({
      name,
      gender: fc.constantFrom('M' as const, 'F' as const, 'U' as const),
      dateOfBirth: date,
      address: opt(address),
      phone: opt(phone),
    })
    .map(clean),
  pharmacy: fc
    .record({
      ncpdpId: digits(7),
      npi: opt(npi),
      businessName: text(70),
      address: opt(address),
      phone: opt(phone),
    })
    .map(clean),
  prescriber: fc
    .record({
      npi,
      deaNumber: opt(dea),
      stateLicenseNumber: opt(fc.stringMatching(/^[A-Za-z0-9-]{1,35}$/)),
      name,
      address: opt(address),
      phone: opt(phone),
    })
    .map(clean),
  medicationPrescribed: medication,
});

const decision = (kinds: readonly Decision['kind'][]): fc.Arbitrary<Decision> =>
  fc.constantFrom(...kinds).chain((kind): fc.Arbitrary<Decision> =>
    kind === 'Denied'
      ? fc
          .record({
            kind: fc.constant('Denied' as const),
            reasonCode: fc.stringMatching(/^[A-Z0-9]{2,3}$/),
            reason: opt(text(70)),
          })
          .map(clean)
      : fc.record({ kind: fc.constant(kind), note: opt(text(210)) }).map(clean),
  );

/** Any message of any supported type. */
export const scriptMessage: fc.Arbitrary<ScriptMessage> = fc.oneof(
  fc.record({ type: fc.constant('NewRx' as const), header, body: parties }),
  fc.record({ type: fc.constant('CancelRx' as const), header, body: parties }),
  fc.record({
    type: fc.constant('CancelRxResponse' as const),
    header,
    body: fc
      .tuple(parties, decision(['Approved', 'Denied']))
      .map(([p, response]) => ({ ...p, response })),
  }),
  fc.record({
    type: fc.constant('RxRenewalRequest' as const),
    header,
    body: fc.tuple(parties, medication, opt(medication)).map(([p, dispensed, prescribed]) =>
      clean({
        patient: p.patient,
        pharmacy: p.pharmacy,
        prescriber: p.prescriber,
        medicationDispensed: dispensed,
        medicationPrescribed: prescribed,
      }),
    ),
  }),
  fc.record({
    type: fc.constant('RxRenewalResponse' as const),
    header,
    body: fc
      .tuple(parties, decision(['Approved', 'ApprovedWithChanges', 'Denied', 'Replace']))
      .map(([p, response]) => ({ ...p, response })),
  }),
  fc.record({
    type: fc.constant('RxChangeRequest' as const),
    header,
    body: fc
      .tuple(
        parties,
        fc.constantFrom(...CHANGE_REQUEST_CODES),
        fc.array(medication, { maxLength: 3 }),
      )
      .map(([p, messageRequestCode, medicationRequested]) => ({
        ...p,
        messageRequestCode,
        medicationRequested,
      })),
  }),
  fc.record({
    type: fc.constant('RxChangeResponse' as const),
    header,
    body: fc
      .tuple(
        parties,
        fc.constantFrom(...CHANGE_REQUEST_CODES),
        decision(['Approved', 'ApprovedWithChanges', 'Denied']),
      )
      .map(([p, messageRequestCode, response]) => ({ ...p, messageRequestCode, response })),
  }),
  fc.record({
    type: fc.constant('RxFill' as const),
    header,
    body: fc
      .tuple(
        parties,
        fc.record({ kind: fc.constantFrom(...FILL_STATUSES), note: opt(text(70)) }).map(clean),
        opt(medication),
      )
      .map(([p, fillStatus, medicationDispensed]) =>
        clean({ ...p, fillStatus, medicationDispensed }),
      ),
  }),
  fc.record({
    type: fc.constant('Status' as const),
    header,
    body: fc
      .record({ code: fc.constantFrom(...STATUS_CODES), description: opt(text(70)) })
      .map(clean),
  }),
  fc.record({
    type: fc.constant('Verify' as const),
    header,
    body: fc
      .record({ code: fc.constantFrom(...STATUS_CODES), description: opt(text(70)) })
      .map(clean),
  }),
  fc.record({
    type: fc.constant('Error' as const),
    header,
    body: fc
      .record({
        code: fc.constantFrom(...ERROR_CODES),
        descriptionCode: opt(fc.stringMatching(/^[0-9]{3,4}$/)),
        description: opt(text(70)),
      })
      .map(clean),
  }),
);
