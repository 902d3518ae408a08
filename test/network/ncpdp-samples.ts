import type {
  Header,
  Medication,
  MessageType,
  NewRxBody,
  ScriptMessage,
} from '../../src/network/ncpdp-script.types.js';

/** Sample SCRIPT 2017071 messages, one per type (the fixtures under test/fixtures/ncpdp). */
export const header: Header = {
  to: { qualifier: 'P', id: '1234567' },
  from: { qualifier: 'D', id: 'SCRIP-CLINIC-01' },
  messageId: 'MSG-0001',
  sentTime: '2026-03-01T09:15:30.125Z',
  senderSoftware: { developer: 'Scrip', product: 'Scrip eRx', version: '0.1.0' },
  prescriberOrderNumber: 'ORD-77-0001',
};

export const oxycodone: Medication = {
  drugDescription: 'oxycodone HCl 5 mg oral tablet',
  ndc: '00406055262',
  strength: { value: '5', unitCode: 'C28253' },
  rxnorm: { code: '1049621', qualifier: 'SCD' },
  deaSchedule: 'C48675',
  quantity: { value: '20', codeListQualifier: '38', unitCode: 'C48542' },
  daysSupply: 5,
  writtenDate: '2026-03-01',
  substitutions: '0',
  numberOfRefills: 0,
  note: 'Post-op pain; do not exceed 4 tablets/day',
  sig: 'Take 1 tablet by mouth every 6 hours as needed for pain <severe> & "breakthrough"',
  earliestFillDate: '2026-03-02',
};

export const amoxicillin: Medication = {
  drugDescription: 'amoxicillin 250 mg/5 mL oral suspension',
  rxnorm: { code: '308182', qualifier: 'SCD' },
  quantity: { value: '150', codeListQualifier: '38', unitCode: 'C28254' },
  daysSupply: 10,
  writtenDate: '2026-02-28T16:45:00-05:00',
  substitutions: '1',
  numberOfRefills: 1,
  sig: 'Give 5 mL by mouth three times daily for 10 days',
};

export const parties: NewRxBody = {
  patient: {
    name: { last: "O'Brien & Sons", first: 'Ada', middle: 'M.' },
    gender: 'F',
    dateOfBirth: '1984-07-09',
    address: {
      line1: '12 Elm St <Apt 3>',
      city: 'Springfield',
      state: 'IL',
      postalCode: '62704',
      countryCode: 'US',
    },
    phone: '2175550134',
  },
  pharmacy: {
    ncpdpId: '1234567',
    npi: '1234567893',
    businessName: 'Main Street Pharmacy',
    address: {
      line1: '1 Main St',
      line2: 'Suite 2',
      city: 'Springfield',
      state: 'IL',
      postalCode: '627040001',
    },
    phone: '2175550100',
  },
  prescriber: {
    npi: '1245319599',
    deaNumber: 'BS1234563',
    stateLicenseNumber: 'IL-036-123456',
    name: { last: 'Smith', first: 'Jane' },
    address: { line1: '200 Clinic Way', city: 'Springfield', state: 'IL', postalCode: '62701' },
    phone: '2175550199',
  },
  medicationPrescribed: oxycodone,
};

const plain: NewRxBody = { ...parties, medicationPrescribed: amoxicillin };
const reply = (id: string): Header => ({
  to: { qualifier: 'D', id: 'SCRIP-CLINIC-01' },
  from: { qualifier: 'P', id: '1234567' },
  messageId: id,
  relatesToMessageId: 'MSG-0001',
  sentTime: '2026-03-01T10:00:00+01:00',
  senderSoftware: { developer: 'Acme Rx', product: 'PharmSys', version: '7.2' },
});

export const samples: { readonly [K in MessageType]: Extract<ScriptMessage, { type: K }> } = {
  NewRx: {
    type: 'NewRx',
    header: { ...header, digitalSignature: { version: '1.1', indicator: true } },
    body: parties,
  },
  CancelRx: { type: 'CancelRx', header: { ...header, messageId: 'MSG-0002' }, body: plain },
  CancelRxResponse: {
    type: 'CancelRxResponse',
    header: reply('PH-0003'),
    body: { response: { kind: 'Approved', note: 'Cancelled before fill' }, ...plain },
  },
  RxRenewalRequest: {
    type: 'RxRenewalRequest',
    header: reply('PH-0004'),
    body: { ...plain, medicationDispensed: amoxicillin, medicationPrescribed: amoxicillin },
  },
  RxRenewalResponse: {
    type: 'RxRenewalResponse',
    header: { ...header, messageId: 'MSG-0005', relatesToMessageId: 'PH-0004' },
    body: {
      response: { kind: 'Denied', reasonCode: 'AF', reason: 'Patient should be seen' },
      ...plain,
    },
  },
  RxChangeRequest: {
    type: 'RxChangeRequest',
    header: reply('PH-0006'),
    body: {
      messageRequestCode: 'G',
      ...plain,
      medicationRequested: [
        {
          ...amoxicillin,
          drugDescription: 'amoxicillin 250 mg/5 mL (generic)',
          ndc: '00093415580',
        },
      ],
    },
  },
  RxChangeResponse: {
    type: 'RxChangeResponse',
    header: { ...header, messageId: 'MSG-0007', relatesToMessageId: 'PH-0006' },
    body: { messageRequestCode: 'G', response: { kind: 'Approved' }, ...plain },
  },
  RxFill: {
    type: 'RxFill',
    header: reply('PH-0008'),
    body: { fillStatus: { kind: 'Dispensed' }, ...parties, medicationDispensed: oxycodone },
  },
  Status: {
    type: 'Status',
    header: reply('PH-0009'),
    body: { code: '000', description: 'Received' },
  },
  Verify: { type: 'Verify', header: reply('PH-0010'), body: { code: '010' } },
  Error: {
    type: 'Error',
    header: reply('PH-0011'),
    body: { code: '900', descriptionCode: '002', description: 'an element value is not valid' },
  },
};
