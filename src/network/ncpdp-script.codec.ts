import {
  CodecFailure,
  compact,
  Cursor,
  descriptionCode,
  oneOf,
  optVal,
  reasonCode,
  reqVal,
  textOf,
  type CodecFailureCode,
} from './ncpdp-script.fields.js';
import { buildHeader, parseHeader, type Seen } from './ncpdp-script.header.js';
import {
  buildMedication,
  buildPatient,
  buildPharmacy,
  buildPrescriber,
  parseMedication,
  parsePatient,
  parsePharmacy,
  parsePrescriber,
} from './ncpdp-script.parties.js';
import {
  CHANGE_REQUEST_CODES,
  ERROR_CODES,
  FILL_STATUSES,
  MESSAGE_TYPES,
  SCRIPT_VERSION,
  STATUS_CODES,
  type Bodies,
  type Decision,
  type MessageType,
  type NewRxBody,
  type Party,
  type ScriptMessage,
  type SenderSoftware,
} from './ncpdp-script.types.js';
import {
  leaf,
  node,
  readXml,
  writeXml,
  XmlReadError,
  type WNode,
  type XmlFailure,
} from './ncpdp-script.xml.js';

/**
 * NCPDP SCRIPT Standard 2017071 codec: {@link buildMessage} writes a typed message as XML (every
 * value escaped), {@link parseMessage} reads untrusted XML into a typed message or a
 * {@link CodecError}, and {@link errorResponse} turns that error into the SCRIPT `Error` message
 * to send back (relating to the received MessageID when it could be read). Parsing never throws.
 */

export type CodecErrorCode = XmlFailure | CodecFailureCode;

/** Why a message was refused: a code, a fixed description, and the schema path (our names only). */
export interface CodecError {
  readonly code: CodecErrorCode;
  readonly description: string;
  /** Expected element path, e.g. `Message/Body/NewRx/Patient`; never input text. */
  readonly path?: string;
  /** The received MessageID and sender, when they were read and well formed. */
  readonly messageId?: string;
  readonly from?: Party;
}

export type ParseResult =
  | { readonly ok: true; readonly message: ScriptMessage }
  | { readonly ok: false; readonly error: CodecError };

const DESCRIPTIONS: Readonly<Record<CodecErrorCode, string>> = {
  too_large: 'message exceeds the size limit',
  encoding: 'message is not UTF-8',
  forbidden_markup: 'DTDs, entities, comments, CDATA and PIs are not accepted',
  too_deep: 'message nesting exceeds the depth limit',
  too_many_elements: 'message exceeds the element limit',
  malformed: 'message is not well-formed XML',
  missing_element: 'a required element is missing',
  unexpected_element: 'an element is not allowed here',
  invalid_value: 'an element value is not valid',
  unknown_message_type: 'message type is not supported',
  unsupported_version: 'only SCRIPT 2017071 is supported',
};

const VERSION_ATTRS = [
  'DatatypesVersion',
  'TransportVersion',
  'TransactionVersion',
  'StructuresVersion',
  'ECLVersion',
] as const;

// --- Bodies ---------------------------------------------------------------------------------

function buildDecision(d: Decision): WNode {
  const inner: WNode =
    d.kind === 'Denied'
      ? node('Denied', leaf('ReasonCode', d.reasonCode), leaf('DenialReason', d.reason))
      : node(d.kind, leaf('Note', d.note));
  return node('Response', inner);
}

function parseDecision(outer: Cursor, allowed: readonly Decision['kind'][]): Decision {
  const kind = outer.peek();
  const c = outer.req(allowed.find((k) => k === kind) ?? allowed[0] ?? 'Approved');
  outer.done();
  if (c.el.name === 'Denied') {
    const out = compact({
      kind: 'Denied' as const,
      reasonCode: reqVal(c, 'ReasonCode', reasonCode),
      reason: optVal(c, 'DenialReason', textOf(70)),
    });
    c.done();
    return out;
  }
  const note = optVal(c, 'Note', textOf(210));
  c.done();
  c.empty();
  return compact({ kind: c.el.name as 'Approved' | 'ApprovedWithChanges' | 'Replace', note });
}

function buildParties(b: NewRxBody): WNode[] {
  return [
    buildPatient(b.patient),
    buildPharmacy(b.pharmacy),
    buildPrescriber(b.prescriber),
    buildMedication('MedicationPrescribed', b.medicationPrescribed),
  ];
}

function parseParties(c: Cursor): NewRxBody {
  return {
    patient: parsePatient(c.req('Patient')),
    pharmacy: parsePharmacy(c.req('Pharmacy')),
    prescriber: parsePrescriber(c.req('Prescriber')),
    medicationPrescribed: parseMedication(c.req('MedicationPrescribed')),
  };
}

function buildBody(m: ScriptMessage): WNode {
  switch (m.type) {
    case 'NewRx':
    case 'CancelRx':
      return node(m.type, ...buildParties(m.body));
    case 'CancelRxResponse':
    case 'RxRenewalResponse':
      return node(m.type, buildDecision(m.body.response), ...buildParties(m.body));
    case 'RxRenewalRequest': {
      const b = m.body;
      return node(
        m.type,
        buildPatient(b.patient),
        buildPharmacy(b.pharmacy),
        buildPrescriber(b.prescriber),
        buildMedication('MedicationDispensed', b.medicationDispensed),
        b.medicationPrescribed === undefined
          ? undefined
          : buildMedication('MedicationPrescribed', b.medicationPrescribed),
      );
    }
    case 'RxChangeRequest':
      return node(
        m.type,
        leaf('MessageRequestCode', m.body.messageRequestCode),
        ...buildParties(m.body),
        ...m.body.medicationRequested.map((r) => buildMedication('MedicationRequested', r)),
      );
    case 'RxChangeResponse':
      return node(
        m.type,
        leaf('MessageRequestCode', m.body.messageRequestCode),
        buildDecision(m.body.response),
        ...buildParties(m.body),
      );
    case 'RxFill':
      return node(
        m.type,
        node('FillStatus', node(m.body.fillStatus.kind, leaf('Note', m.body.fillStatus.note))),
        ...buildParties(m.body),
        m.body.medicationDispensed === undefined
          ? undefined
          : buildMedication('MedicationDispensed', m.body.medicationDispensed),
      );
    case 'Status':
      return node('Status', leaf('Code', m.body.code), leaf('Description', m.body.description));
    case 'Verify':
      return node(
        'Verify',
        node('VerifyStatus', leaf('Code', m.body.code), leaf('Description', m.body.description)),
      );
    case 'Error':
      return node(
        'Error',
        leaf('Code', m.body.code),
        leaf('DescriptionCode', m.body.descriptionCode),
        leaf('Description', m.body.description),
      );
  }
}

const description = textOf(70);

function parseBody<K extends MessageType>(type: K, c: Cursor): Bodies[K] {
  const body = ((): Bodies[MessageType] => {
    switch (type) {
      case 'NewRx':
      case 'CancelRx':
        return parseParties(c);
      case 'CancelRxResponse':
        return {
          response: parseDecision(c.req('Response'), ['Approved', 'Denied']),
          ...parseParties(c),
        };
      case 'RxRenewalResponse':
        return {
          response: parseDecision(c.req('Response'), [
            'Approved',
            'ApprovedWithChanges',
            'Denied',
            'Replace',
          ]),
          ...parseParties(c),
        };
      case 'RxRenewalRequest': {
        const patient = parsePatient(c.req('Patient'));
        const pharmacy = parsePharmacy(c.req('Pharmacy'));
        const prescriber = parsePrescriber(c.req('Prescriber'));
        const medicationDispensed = parseMedication(c.req('MedicationDispensed'));
        const prescribed = c.opt('MedicationPrescribed');
        return compact({
          patient,
          pharmacy,
          prescriber,
          medicationDispensed,
          medicationPrescribed: prescribed === undefined ? undefined : parseMedication(prescribed),
        });
      }
      case 'RxChangeRequest': {
        const messageRequestCode = reqVal(c, 'MessageRequestCode', oneOf(CHANGE_REQUEST_CODES));
        const parties = parseParties(c);
        const medicationRequested = c.many('MedicationRequested', 9).map(parseMedication);
        return { messageRequestCode, ...parties, medicationRequested };
      }
      case 'RxChangeResponse': {
        const messageRequestCode = reqVal(c, 'MessageRequestCode', oneOf(CHANGE_REQUEST_CODES));
        const response = parseDecision(c.req('Response'), [
          'Approved',
          'ApprovedWithChanges',
          'Denied',
        ]);
        return { messageRequestCode, response, ...parseParties(c) };
      }
      case 'RxFill': {
        const fs = c.req('FillStatus');
        const kind = oneOf(FILL_STATUSES)(fs.peek() ?? '', `${fs.path}/Dispensed`);
        const inner = fs.req(kind);
        const note = optVal(inner, 'Note', textOf(70));
        inner.done();
        inner.empty();
        fs.done();
        const parties = parseParties(c);
        const dispensed = c.opt('MedicationDispensed');
        return compact({
          fillStatus: compact({ kind, note }),
          ...parties,
          medicationDispensed: dispensed === undefined ? undefined : parseMedication(dispensed),
        });
      }
      case 'Status':
        return compact({
          code: reqVal(c, 'Code', oneOf(STATUS_CODES)),
          description: optVal(c, 'Description', description),
        });
      case 'Verify': {
        const v = c.req('VerifyStatus');
        const out = compact({
          code: reqVal(v, 'Code', oneOf(STATUS_CODES)),
          description: optVal(v, 'Description', description),
        });
        v.done();
        return out;
      }
      case 'Error':
        return compact({
          code: reqVal(c, 'Code', oneOf(ERROR_CODES)),
          descriptionCode: optVal(c, 'DescriptionCode', descriptionCode),
          description: optVal(c, 'Description', description),
        });
    }
  })();
  c.done();
  return body as Bodies[K];
}

// --- Public API -----------------------------------------------------------------------------

function buildUnchecked(m: ScriptMessage): string {
  const attrs: Record<string, string> = { TransactionDomain: 'SCRIPT' };
  for (const a of VERSION_ATTRS) attrs[a] = SCRIPT_VERSION;
  return writeXml({
    name: 'Message',
    attrs,
    children: [buildHeader(m.header), node('Body', buildBody(m))],
  });
}

/**
 * Writes `message` as SCRIPT 2017071 XML. The result is parsed back before it is returned, so
 * the codec never emits a message it would itself refuse; an invalid model is programmer misuse
 * and throws `TypeError` naming the element path.
 */
export function buildMessage(message: ScriptMessage): string {
  const xml = buildUnchecked(message);
  const back = parseMessage(xml);
  if (!back.ok) {
    throw new TypeError(
      `invalid SCRIPT message model: ${back.error.code} at ${back.error.path ?? '?'}`,
    );
  }
  return xml;
}

function parseRoot(root: ReturnType<typeof readXml>, seen: Seen): ScriptMessage {
  const msg = new Cursor(root, 'Message');
  if (root.name !== 'Message') throw new CodecFailure('unexpected_element', 'Message');
  if (root.attrs.get('TransactionDomain') !== 'SCRIPT') {
    throw new CodecFailure('unsupported_version', 'Message/@TransactionDomain');
  }
  for (const a of VERSION_ATTRS) {
    if (root.attrs.get(a) !== SCRIPT_VERSION) {
      throw new CodecFailure('unsupported_version', `Message/@${a}`);
    }
  }
  const header = parseHeader(msg.req('Header'), seen);
  const body = msg.req('Body');
  msg.done(['TransactionDomain', ...VERSION_ATTRS, 'xmlns:xsi', 'xmlns:xsd']);
  const typeName = body.peek();
  const type = MESSAGE_TYPES.find((t) => t === typeName);
  if (type === undefined) throw new CodecFailure('unknown_message_type', 'Message/Body');
  const inner = body.req(type);
  body.done();
  return { type, header, body: parseBody(type, inner) } as ScriptMessage;
}

/**
 * Reads untrusted SCRIPT XML (string or UTF-8 bytes). Never throws: any failure, including one
 * inside the XML parser, becomes a {@link CodecError} whose description is fixed text.
 */
export function parseMessage(input: string | Uint8Array): ParseResult {
  const seen: Seen = {};
  const fail = (code: CodecErrorCode, path?: string): ParseResult => ({
    ok: false,
    error: compact({
      code,
      description: DESCRIPTIONS[code],
      path,
      messageId: seen.messageId,
      from: seen.from,
    }),
  });
  try {
    return { ok: true, message: parseRoot(readXml(input), seen) };
  } catch (err) {
    if (err instanceof XmlReadError) return fail(err.reason);
    if (err instanceof CodecFailure) return fail(err.code, err.path);
    return fail('malformed');
  }
}

/**
 * ECL DescriptionCode values Scrip sends with Error Code 900 (provisional mapping, see
 * docs/ncpdp-script.md): 001 not parseable, 002 content fails validation, 003 message type or
 * version not supported.
 */
export function errorCodesFor(code: CodecErrorCode): { code: '900'; descriptionCode: string } {
  switch (code) {
    case 'unknown_message_type':
    case 'unsupported_version':
      return { code: '900', descriptionCode: '003' };
    case 'missing_element':
    case 'unexpected_element':
    case 'invalid_value':
      return { code: '900', descriptionCode: '002' };
    case 'too_large':
    case 'encoding':
    case 'forbidden_markup':
    case 'too_deep':
    case 'too_many_elements':
    case 'malformed':
      return { code: '900', descriptionCode: '001' };
  }
}

/**
 * The SCRIPT `Error` answering a refused message: To is the sender when it was read (else an
 * unknown mailbox), RelatesToMessageID the received MessageID when it was read. The Description
 * is the codec's fixed text, never a value from the input.
 */
export function errorResponse(
  error: CodecError,
  self: {
    readonly party: Party;
    readonly messageId: string;
    readonly sentTime: string;
    readonly software: SenderSoftware;
  },
): ScriptMessage {
  return {
    type: 'Error',
    header: compact({
      to: error.from ?? { qualifier: 'ZZZ', id: 'UNKNOWN' },
      from: self.party,
      messageId: self.messageId,
      relatesToMessageId: error.messageId,
      sentTime: self.sentTime,
      senderSoftware: self.software,
    }),
    body: { ...errorCodesFor(error.code), description: error.description.slice(0, 70) },
  };
}
