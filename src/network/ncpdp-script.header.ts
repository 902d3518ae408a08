import {
  boolText,
  CodecFailure,
  compact,
  dateTime,
  identifier,
  oneOf,
  optVal,
  reqVal,
  textOf,
  type Cursor,
} from './ncpdp-script.fields.js';
import {
  PARTY_QUALIFIERS,
  type Header,
  type Party,
  type SenderSoftware,
} from './ncpdp-script.types.js';
import { leaf, node, type WNode } from './ncpdp-script.xml.js';

/**
 * The SCRIPT 2017071 Header: To/From with their Qualifier attribute, MessageID,
 * RelatesToMessageID, SentTime, SenderSoftware, PrescriberOrderNumber and the DigitalSignature
 * indicator, in that order.
 */
export function buildHeader(h: Header): WNode {
  return node(
    'Header',
    { name: 'To', attrs: { Qualifier: h.to.qualifier }, text: h.to.id },
    { name: 'From', attrs: { Qualifier: h.from.qualifier }, text: h.from.id },
    leaf('MessageID', h.messageId),
    leaf('RelatesToMessageID', h.relatesToMessageId),
    leaf('SentTime', h.sentTime),
    node(
      'SenderSoftware',
      leaf('SenderSoftwareDeveloper', h.senderSoftware.developer),
      leaf('SenderSoftwareProduct', h.senderSoftware.product),
      leaf('SenderSoftwareVersionRelease', h.senderSoftware.version),
    ),
    leaf('PrescriberOrderNumber', h.prescriberOrderNumber),
    h.digitalSignature === undefined
      ? undefined
      : {
          name: 'DigitalSignature',
          attrs: { Version: h.digitalSignature.version },
          children: [leaf('DigitalSignatureIndicator', String(h.digitalSignature.indicator))],
        },
  );
}

function parseParty(c: Cursor): Party {
  c.done(['Qualifier']);
  const qualifier = oneOf(PARTY_QUALIFIERS)(
    c.el.attrs.get('Qualifier') ?? '',
    `${c.path}/@Qualifier`,
  );
  if (c.el.children.length > 0 || c.el.text === undefined) {
    throw new CodecFailure('invalid_value', c.path);
  }
  return { qualifier, id: identifier(c.el.text, c.path) };
}

/** What the header parse learned before failing (for the Error response). */
export interface Seen {
  messageId?: string;
  from?: Party;
}

export function parseHeader(c: Cursor, seen: Seen): Header {
  const to = parseParty(c.req('To'));
  const from = parseParty(c.req('From'));
  seen.from = from;
  const messageId = reqVal(c, 'MessageID', identifier);
  seen.messageId = messageId;
  const relatesToMessageId = optVal(c, 'RelatesToMessageID', identifier);
  const sentTime = reqVal(c, 'SentTime', dateTime);
  const sw = c.req('SenderSoftware');
  const senderSoftware: SenderSoftware = {
    developer: reqVal(sw, 'SenderSoftwareDeveloper', textOf(35)),
    product: reqVal(sw, 'SenderSoftwareProduct', textOf(35)),
    version: reqVal(sw, 'SenderSoftwareVersionRelease', textOf(10)),
  };
  sw.done();
  const prescriberOrderNumber = optVal(c, 'PrescriberOrderNumber', identifier);
  let digitalSignature: Header['digitalSignature'];
  const ds = c.opt('DigitalSignature');
  if (ds !== undefined) {
    const version = textOf(10)(ds.el.attrs.get('Version') ?? '', `${ds.path}/@Version`);
    digitalSignature = { version, indicator: reqVal(ds, 'DigitalSignatureIndicator', boolText) };
    ds.done(['Version']);
  }
  c.done();
  return compact({
    to,
    from,
    messageId,
    relatesToMessageId,
    sentTime,
    senderSoftware,
    prescriberOrderNumber,
    digitalSignature,
  });
}
