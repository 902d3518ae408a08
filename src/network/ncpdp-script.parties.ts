import {
  compact,
  country,
  date,
  dateTime,
  dea,
  integer,
  nciCode,
  ncpdpId,
  ndc,
  npi,
  oneOf,
  optVal,
  phone,
  positiveDecimal,
  postalCode,
  reqVal,
  rxcui,
  state,
  stateLicense,
  textOf,
  type Cursor,
  CodecFailure,
} from './ncpdp-script.fields.js';
import {
  DEA_SCHEDULE_CODES,
  QUANTITY_QUALIFIERS,
  RXNORM_QUALIFIERS,
  type Address,
  type DeaScheduleCode,
  type Medication,
  type Patient,
  type PersonName,
  type Pharmacy,
  type Prescriber,
} from './ncpdp-script.types.js';
import { leaf, node, type WNode } from './ncpdp-script.xml.js';

/**
 * Build and parse of the SCRIPT 2017071 party and medication segments: Patient/HumanPatient,
 * Pharmacy, Prescriber/NonVeterinarian and MedicationPrescribed (MedicationDispensed and
 * MedicationRequested share its shape here). Element order follows the 2017071 structures.
 */

const name35 = textOf(35);
const line40 = textOf(40);

// --- Name, Address, phone -------------------------------------------------------------------

function buildName(n: PersonName): WNode {
  return node(
    'Name',
    leaf('LastName', n.last),
    leaf('FirstName', n.first),
    leaf('MiddleName', n.middle),
  );
}

function parseName(c: Cursor): PersonName {
  const out = compact({
    last: reqVal(c, 'LastName', name35),
    first: reqVal(c, 'FirstName', name35),
    middle: optVal(c, 'MiddleName', name35),
  });
  c.done();
  return out;
}

function buildAddress(a: Address | undefined): WNode | undefined {
  if (a === undefined) return undefined;
  return node(
    'Address',
    leaf('AddressLine1', a.line1),
    leaf('AddressLine2', a.line2),
    leaf('City', a.city),
    leaf('StateProvince', a.state),
    leaf('PostalCode', a.postalCode),
    leaf('CountryCode', a.countryCode),
  );
}

function parseAddress(c: Cursor | undefined): Address | undefined {
  if (c === undefined) return undefined;
  const out = compact({
    line1: reqVal(c, 'AddressLine1', line40),
    line2: optVal(c, 'AddressLine2', line40),
    city: reqVal(c, 'City', name35),
    state: reqVal(c, 'StateProvince', state),
    postalCode: reqVal(c, 'PostalCode', postalCode),
    countryCode: optVal(c, 'CountryCode', country),
  });
  c.done();
  return out;
}

function buildPhone(p: string | undefined): WNode | undefined {
  if (p === undefined) return undefined;
  return node('CommunicationNumbers', node('PrimaryTelephone', leaf('Number', p)));
}

function parsePhone(c: Cursor | undefined): string | undefined {
  if (c === undefined) return undefined;
  const primary = c.req('PrimaryTelephone');
  const n = reqVal(primary, 'Number', phone);
  primary.done();
  c.done();
  return n;
}

// --- Patient, Pharmacy, Prescriber ------------------------------------------------------------

export function buildPatient(p: Patient): WNode {
  return node(
    'Patient',
    node(
      'HumanPatient',
      buildName(p.name),
      leaf('Gender', p.gender),
      node('DateOfBirth', leaf('Date', p.dateOfBirth)),
      buildAddress(p.address),
      buildPhone(p.phone),
    ),
  );
}

export function parsePatient(outer: Cursor): Patient {
  const c = outer.req('HumanPatient');
  const name = parseName(c.req('Name'));
  const gender = reqVal(c, 'Gender', oneOf(['M', 'F', 'U'] as const));
  const dob = c.req('DateOfBirth');
  const dateOfBirth = reqVal(dob, 'Date', date);
  dob.done();
  const out = compact({
    name,
    gender,
    dateOfBirth,
    address: parseAddress(c.opt('Address')),
    phone: parsePhone(c.opt('CommunicationNumbers')),
  });
  c.done();
  outer.done();
  return out;
}

export function buildPharmacy(p: Pharmacy): WNode {
  return node(
    'Pharmacy',
    node('Identification', leaf('NCPDPID', p.ncpdpId), leaf('NPI', p.npi)),
    leaf('BusinessName', p.businessName),
    buildAddress(p.address),
    buildPhone(p.phone),
  );
}

export function parsePharmacy(c: Cursor): Pharmacy {
  const id = c.req('Identification');
  const ncpdp = reqVal(id, 'NCPDPID', ncpdpId);
  const npiValue = optVal(id, 'NPI', npi);
  id.done();
  const out = compact({
    ncpdpId: ncpdp,
    npi: npiValue,
    businessName: reqVal(c, 'BusinessName', textOf(70)),
    address: parseAddress(c.opt('Address')),
    phone: parsePhone(c.opt('CommunicationNumbers')),
  });
  c.done();
  return out;
}

export function buildPrescriber(p: Prescriber): WNode {
  return node(
    'Prescriber',
    node(
      'NonVeterinarian',
      node(
        'Identification',
        leaf('StateLicenseNumber', p.stateLicenseNumber),
        leaf('DEANumber', p.deaNumber),
        leaf('NPI', p.npi),
      ),
      buildName(p.name),
      buildAddress(p.address),
      buildPhone(p.phone),
    ),
  );
}

export function parsePrescriber(outer: Cursor): Prescriber {
  const c = outer.req('NonVeterinarian');
  const id = c.req('Identification');
  const stateLicenseNumber = optVal(id, 'StateLicenseNumber', stateLicense);
  const deaNumber = optVal(id, 'DEANumber', dea);
  const npiValue = reqVal(id, 'NPI', npi);
  id.done();
  const out = compact({
    npi: npiValue,
    deaNumber,
    stateLicenseNumber,
    name: parseName(c.req('Name')),
    address: parseAddress(c.opt('Address')),
    phone: parsePhone(c.opt('CommunicationNumbers')),
  });
  c.done();
  outer.done();
  return out;
}

// --- Medication ---------------------------------------------------------------------------

function dateChoice(name: string, value: string): WNode {
  return node(name, value.includes('T') ? leaf('DateTime', value) : leaf('Date', value));
}

function parseDateChoice(c: Cursor): string {
  const value = c.peek() === 'DateTime' ? reqVal(c, 'DateTime', dateTime) : reqVal(c, 'Date', date);
  c.done();
  return value;
}

export function buildMedication(element: string, m: Medication): WNode {
  const coded =
    m.ndc !== undefined ||
    m.strength !== undefined ||
    m.rxnorm !== undefined ||
    m.deaSchedule !== undefined;
  return node(
    element,
    leaf('DrugDescription', m.drugDescription),
    coded
      ? node(
          'DrugCoded',
          m.ndc === undefined
            ? undefined
            : node('ProductCode', leaf('Code', m.ndc), leaf('Qualifier', 'ND')),
          m.strength === undefined
            ? undefined
            : node(
                'Strength',
                leaf('StrengthValue', m.strength.value),
                node('StrengthUnitOfMeasure', leaf('Code', m.strength.unitCode)),
              ),
          m.rxnorm === undefined
            ? undefined
            : node(
                'DrugDBCode',
                leaf('Code', m.rxnorm.code),
                leaf('Qualifier', m.rxnorm.qualifier),
              ),
          m.deaSchedule === undefined
            ? undefined
            : node('DEASchedule', leaf('Code', m.deaSchedule)),
        )
      : undefined,
    node(
      'Quantity',
      leaf('Value', m.quantity.value),
      leaf('CodeListQualifier', m.quantity.codeListQualifier),
      node('QuantityUnitOfMeasure', leaf('Code', m.quantity.unitCode)),
    ),
    leaf('DaysSupply', m.daysSupply),
    dateChoice('WrittenDate', m.writtenDate),
    leaf('Substitutions', m.substitutions),
    leaf('NumberOfRefills', m.numberOfRefills),
    leaf('Note', m.note),
    node('Sig', leaf('SigText', m.sig)),
    m.earliestFillDate === undefined
      ? undefined
      : node(
          'OtherMedicationDate',
          node('OtherMedicationDate', leaf('Date', m.earliestFillDate)),
          leaf('OtherMedicationDateQualifier', 'EffectiveDate'),
        ),
  );
}

function parseCodeLeaf<T>(c: Cursor, name: string, check: (v: string, p: string) => T): T {
  const inner = c.req(name);
  const v = reqVal(inner, 'Code', check);
  inner.done();
  return v;
}

function parseDrugCoded(
  c: Cursor,
): Pick<Medication, 'ndc' | 'strength' | 'rxnorm' | 'deaSchedule'> {
  let ndcValue: string | undefined;
  const product = c.opt('ProductCode');
  if (product !== undefined) {
    ndcValue = reqVal(product, 'Code', ndc);
    reqVal(product, 'Qualifier', oneOf(['ND'] as const));
    product.done();
  }
  let strength: Medication['strength'];
  const s = c.opt('Strength');
  if (s !== undefined) {
    strength = {
      value: reqVal(s, 'StrengthValue', positiveDecimal),
      unitCode: parseCodeLeaf(s, 'StrengthUnitOfMeasure', nciCode),
    };
    s.done();
  }
  let rxnorm: Medication['rxnorm'];
  const db = c.opt('DrugDBCode');
  if (db !== undefined) {
    rxnorm = {
      code: reqVal(db, 'Code', rxcui),
      qualifier: reqVal(db, 'Qualifier', oneOf(RXNORM_QUALIFIERS)),
    };
    db.done();
  }
  const deaScheduleCodes = Object.keys(DEA_SCHEDULE_CODES) as DeaScheduleCode[];
  const dea = c.opt('DEASchedule');
  const deaSchedule = dea === undefined ? undefined : parseCodeOnly(dea, oneOf(deaScheduleCodes));
  c.done();
  if (
    ndcValue === undefined &&
    strength === undefined &&
    rxnorm === undefined &&
    dea === undefined
  ) {
    throw new CodecFailure('missing_element', `${c.path}/ProductCode`);
  }
  return compact({ ndc: ndcValue, strength, rxnorm, deaSchedule });
}

function parseCodeOnly<T>(c: Cursor, check: (v: string, p: string) => T): T {
  const v = reqVal(c, 'Code', check);
  c.done();
  return v;
}

export function parseMedication(c: Cursor): Medication {
  const drugDescription = reqVal(c, 'DrugDescription', textOf(105));
  const codedCursor = c.opt('DrugCoded');
  const coded = codedCursor === undefined ? {} : parseDrugCoded(codedCursor);
  const q = c.req('Quantity');
  const quantity = {
    value: reqVal(q, 'Value', positiveDecimal),
    codeListQualifier: reqVal(q, 'CodeListQualifier', oneOf(QUANTITY_QUALIFIERS)),
    unitCode: parseCodeLeaf(q, 'QuantityUnitOfMeasure', nciCode),
  };
  q.done();
  const daysSupply = optVal(c, 'DaysSupply', integer(1, 999));
  const writtenDate = parseDateChoice(c.req('WrittenDate'));
  const substitutions = reqVal(c, 'Substitutions', oneOf(['0', '1'] as const));
  const numberOfRefills = reqVal(c, 'NumberOfRefills', integer(0, 99));
  const note = optVal(c, 'Note', textOf(210));
  const sigCursor = c.req('Sig');
  const sig = reqVal(sigCursor, 'SigText', textOf(1000));
  sigCursor.done();
  let earliestFillDate: string | undefined;
  const other = c.opt('OtherMedicationDate');
  if (other !== undefined) {
    const inner = other.req('OtherMedicationDate');
    earliestFillDate = reqVal(inner, 'Date', date);
    inner.done();
    reqVal(other, 'OtherMedicationDateQualifier', oneOf(['EffectiveDate'] as const));
    other.done();
  }
  c.done();
  return compact({
    drugDescription,
    ...coded,
    quantity,
    daysSupply,
    writtenDate,
    substitutions,
    numberOfRefills,
    note,
    sig,
    earliestFillDate,
  });
}
