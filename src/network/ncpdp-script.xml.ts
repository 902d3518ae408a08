import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * Hostile-input-safe XML reading and escaping-only XML writing for the SCRIPT codec.
 *
 * Reading refuses, before any parser sees the input: more than {@link XML_LIMITS}.bytes, a
 * DOCTYPE, an ENTITY declaration, comments and CDATA (every `<!`), and processing instructions
 * other than the leading XML declaration; then it checks nesting depth and element count with its
 * own non-recursive scan (OWASP XML Security Cheat Sheet: no DTDs, no external entities, bounded
 * documents). fast-xml-parser then runs with entity processing off; the five predefined entities
 * and character references are decoded here, and any other `&name;` is refused.
 */
export const XML_LIMITS = {
  bytes: 256 * 1024,
  depth: 16,
  elements: 4096,
  textChars: 4096,
} as const;

/** Why reading failed; the codec maps these to Error messages (never echoing input). */
export type XmlFailure =
  'too_large' | 'encoding' | 'forbidden_markup' | 'too_deep' | 'too_many_elements' | 'malformed';

export class XmlReadError extends Error {
  constructor(readonly reason: XmlFailure) {
    super(`xml refused: ${reason}`);
    this.name = 'XmlReadError';
  }
}

/** One element: attributes, child elements, and text (an element never has both). */
export interface XElement {
  readonly name: string;
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly XElement[];
  readonly text: string | undefined;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  maxNestedTags: XML_LIMITS.depth + 1,
});

/** XML 1.0 §2.8 XMLDecl: version, optional encoding, optional standalone, nothing else. */
const DECLARATION =
  /^<\?xml\s+version\s*=\s*(["'])1\.0\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]{0,39}\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*\?>/;

/** Depth and element count without recursion; also refuses `<!` and stray `<?`. */
function prescan(xml: string): void {
  let depth = 0;
  let elements = 0;
  let i = xml.indexOf('<');
  while (i !== -1) {
    const next = xml.charCodeAt(i + 1);
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      throw new XmlReadError('forbidden_markup');
    }
    // Find the end of the tag, skipping quoted attribute values (which may hold '>').
    let j = i + 1;
    let quote = 0;
    for (; j < xml.length; j++) {
      const c = xml.charCodeAt(j);
      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else if (c === 0x3e /* > */) {
        break;
      } else if (c === 0x3c /* < */) {
        throw new XmlReadError('malformed');
      }
    }
    if (j >= xml.length) throw new XmlReadError('malformed');
    if (next === 0x2f /* / */) {
      depth -= 1;
      if (depth < 0) throw new XmlReadError('malformed');
    } else if (xml.charCodeAt(j - 1) !== 0x2f) {
      depth += 1;
      elements += 1;
      if (depth > XML_LIMITS.depth) throw new XmlReadError('too_deep');
    } else {
      elements += 1;
    }
    if (elements > XML_LIMITS.elements) throw new XmlReadError('too_many_elements');
    i = xml.indexOf('<', j + 1);
  }
  if (depth !== 0) throw new XmlReadError('malformed');
}

const ENTITY = /&([^;&\s]{0,10});?/g;
const NAMED: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** Decodes the predefined entities and character references; anything else is refused. */
function decode(raw: string, attribute: boolean): string {
  if (attribute && raw.includes('<')) throw new XmlReadError('malformed');
  if (!raw.includes('&')) return raw;
  return raw.replace(ENTITY, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new XmlReadError('malformed');
    const named = NAMED[name];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (m === null) throw new XmlReadError('forbidden_markup');
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2] ?? '', 10);
    const xmlChar =
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      (cp >= 0x10000 && cp <= 0x10ffff);
    if (!xmlChar) throw new XmlReadError('malformed');
    return String.fromCodePoint(cp);
  });
}

type Ordered = Record<string, unknown>;

function toElement(node: Ordered): XElement {
  const keys = Object.keys(node).filter((k) => k !== ':@');
  const name = keys[0];
  if (keys.length !== 1 || name === undefined || name === '#text') {
    throw new XmlReadError('malformed');
  }
  const attrs = new Map<string, string>();
  const rawAttrs = node[':@'];
  if (rawAttrs !== undefined) {
    for (const [k, v] of Object.entries(rawAttrs as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new XmlReadError('malformed');
      attrs.set(k, decode(v, true));
    }
  }
  const content = node[name];
  if (!Array.isArray(content)) throw new XmlReadError('malformed');
  const children: XElement[] = [];
  let text: string | undefined;
  for (const item of content as Ordered[]) {
    if (Object.hasOwn(item, '#text')) {
      const t = item['#text'];
      if (typeof t !== 'string' || text !== undefined) throw new XmlReadError('malformed');
      if (t.length > XML_LIMITS.textChars) throw new XmlReadError('too_large');
      text = decode(t, false);
    } else {
      children.push(toElement(item));
    }
  }
  if (text !== undefined && children.length > 0) throw new XmlReadError('malformed'); // mixed content
  return { name, attrs, children, text };
}

/**
 * Parses one document into its root element, or throws {@link XmlReadError}. Accepts a string or
 * UTF-8 bytes (invalid UTF-8 is refused rather than replaced).
 */
export function readXml(input: string | Uint8Array): XElement {
  let xml: string;
  if (typeof input === 'string') {
    if (input.length > XML_LIMITS.bytes || Buffer.byteLength(input, 'utf8') > XML_LIMITS.bytes) {
      throw new XmlReadError('too_large');
    }
    xml = input;
  } else {
    if (input.byteLength > XML_LIMITS.bytes) throw new XmlReadError('too_large');
    try {
      xml = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new XmlReadError('encoding');
    }
  }
  if (xml.charCodeAt(0) === 0xfeff) xml = xml.slice(1);
  // The only processing instruction allowed is the XML declaration, first in the document.
  const decl = DECLARATION.exec(xml);
  if (decl !== null) {
    const encoding = /encoding\s*=\s*["']([^"']*)["']/.exec(decl[0])?.[1];
    if (encoding !== undefined && encoding.toUpperCase() !== 'UTF-8') {
      throw new XmlReadError('encoding');
    }
    xml = xml.slice(decl[0].length);
  }
  if (/<!DOCTYPE|<!ENTITY|<\?/i.test(xml)) throw new XmlReadError('forbidden_markup');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(xml)) {
    throw new XmlReadError('malformed');
  }
  // One root element and nothing but whitespace around it (no text or references after it).
  if (!/^\s*</.test(xml) || !/>\s*$/.test(xml)) throw new XmlReadError('malformed');
  prescan(xml);
  // The parser alone accepts mismatched end tags; the validator does not. (Deprecated in favour
  // of a separate package we do not install; it is the same code, still shipped in v5.)
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  if (XMLValidator.validate(xml) !== true) throw new XmlReadError('malformed');
  let parsed: unknown;
  try {
    parsed = parser.parse(xml);
  } catch {
    throw new XmlReadError('malformed');
  }
  if (!Array.isArray(parsed) || parsed.length !== 1) throw new XmlReadError('malformed');
  return toElement(parsed[0] as Ordered);
}

// ---------------------------------------------------------------------------------------------
// Writing: every text and attribute value is escaped; element names come from the codec only.

/** A node to write: an element with children, or with text. */
export interface WNode {
  readonly name: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly children?: readonly (WNode | undefined)[];
  readonly text?: string;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes `& < > " '` (safe in both text and attribute values). */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function writeNode(node: WNode, out: string[]): void {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const kids = (node.children ?? []).filter((c): c is WNode => c !== undefined);
  if (node.text !== undefined) {
    out.push(`<${node.name}${attrs}>${escapeXml(node.text)}</${node.name}>`);
  } else if (kids.length === 0) {
    out.push(`<${node.name}${attrs}/>`);
  } else {
    out.push(`<${node.name}${attrs}>`);
    for (const k of kids) writeNode(k, out);
    out.push(`</${node.name}>`);
  }
}

/** The document with its XML declaration. */
export function writeXml(root: WNode): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  writeNode(root, out);
  return out.join('');
}

/** A leaf element, or nothing when the value is absent. */
export function leaf(name: string, value: string | number | undefined): WNode | undefined {
  return value === undefined ? undefined : { name, text: String(value) };
}

export function node(name: string, ...children: (WNode | undefined)[]): WNode {
  return { name, children };
}
