import { isValidNpi } from '../identity/npi.js';
import { isValidDea } from '../identity/dea.js';
import type { XElement } from './ncpdp-script.xml.js';

/**
 * Strict reading of SCRIPT elements: a cursor that consumes children in schema order (an
 * unknown, repeated or out-of-order element is refused), and the value checks of the 2017071
 * data types Scrip uses. Failures name the expected element path (our names, never input text).
 */
export type CodecFailureCode =
  | 'missing_element'
  | 'unexpected_element'
  | 'invalid_value'
  | 'unknown_message_type'
  | 'unsupported_version';

export class CodecFailure extends Error {
  constructor(
    readonly code: CodecFailureCode,
    readonly path: string,
  ) {
    super(`${code} at ${path}`);
    this.name = 'CodecFailure';
  }
}

/** Reads the children of one element in order. */
export class Cursor {
  #next = 0;
  constructor(
    readonly el: XElement,
    readonly path: string,
  ) {}

  #at(name: string): XElement | undefined {
    const c = this.el.children[this.#next];
    if (c?.name !== name) return undefined;
    this.#next += 1;
    return c;
  }

  opt(name: string): Cursor | undefined {
    const c = this.#at(name);
    return c === undefined ? undefined : new Cursor(c, `${this.path}/${name}`);
  }

  req(name: string): Cursor {
    const c = this.opt(name);
    if (c === undefined) throw new CodecFailure('missing_element', `${this.path}/${name}`);
    return c;
  }

  many(name: string, max: number): Cursor[] {
    const out: Cursor[] = [];
    for (let c = this.opt(name); c !== undefined; c = this.opt(name)) {
      out.push(c);
      if (out.length > max) throw new CodecFailure('unexpected_element', `${this.path}/${name}`);
    }
    return out;
  }

  /** Name of the next unread child (for choices). Only names we then compare with ours. */
  peek(): string | undefined {
    return this.el.children[this.#next]?.name;
  }

  /** Text of this element (a leaf); children or attributes here are refused. */
  text(): string {
    if (this.el.children.length > 0 || this.el.attrs.size > 0) {
      throw new CodecFailure('unexpected_element', this.path);
    }
    if (this.el.text === undefined) throw new CodecFailure('invalid_value', this.path);
    return this.el.text;
  }

  reqText(name: string): string {
    return this.req(name).text();
  }

  optText(name: string): string | undefined {
    return this.opt(name)?.text();
  }

  /** Every child consumed, no text beside them, no attributes but those named. */
  done(allowedAttrs: readonly string[] = []): void {
    if (this.#next !== this.el.children.length) {
      throw new CodecFailure('unexpected_element', this.path);
    }
    if (this.el.text !== undefined && this.el.children.length > 0) {
      throw new CodecFailure('unexpected_element', this.path);
    }
    for (const k of this.el.attrs.keys()) {
      if (!allowedAttrs.includes(k)) throw new CodecFailure('unexpected_element', this.path);
    }
  }

  /** An empty element (e.g. `<Approved/>` without a note). */
  empty(): void {
    if (this.el.text !== undefined) throw new CodecFailure('invalid_value', this.path);
  }
}

// ---------------------------------------------------------------------------------------------
// Value checks. Each takes the value and the path for the failure.

type Check<T> = (value: string, path: string) => T;

function bad(path: string): never {
  throw new CodecFailure('invalid_value', path);
}

/** Text of 1..max characters, no control characters, no surrounding whitespace. */
export function textOf(max: number): Check<string> {
  return (v, path) => {
    // eslint-disable-next-line no-control-regex
    if (v.length < 1 || v.length > max || /[\u0000-\u001f\u007f]/.test(v) || v.trim() !== v) {
      bad(path);
    }
    if (/[\ud800-\udfff]/.test(v.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) bad(path);
    return v;
  };
}

export function pattern(re: RegExp): Check<string> {
  return (v, path) => (re.test(v) ? v : bad(path));
}

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, path) => ((values as readonly string[]).includes(v) ? (v as T) : bad(path));
}

export function integer(min: number, max: number): Check<number> {
  return (v, path) => {
    if (!/^(0|[1-9][0-9]{0,5})$/.test(v)) bad(path);
    const n = Number(v);
    return n >= min && n <= max ? n : bad(path);
  };
}

/** Canonical decimal: up to 11 integer digits and 5 fraction digits, no trailing fraction zero. */
export const decimal: Check<string> = pattern(/^(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?$/);

/** A decimal greater than zero. */
export const positiveDecimal: Check<string> = (v, path) => {
  decimal(v, path);
  return /[1-9]/.test(v) ? v : bad(path);
};

function realDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** YYYY-MM-DD, a real calendar date between 1900 and 2199. */
export const date: Check<string> = (v, path) => {
  const m = /^(19|20|21)([0-9]{2})-([0-9]{2})-([0-9]{2})$/.exec(v);
  if (m === null) bad(path);
  const year = Number(`${m[1] ?? ''}${m[2] ?? ''}`);
  return realDate(year, Number(m[3]), Number(m[4])) ? v : bad(path);
};

/** ISO 8601 date-time with seconds, optional fraction (≤ 7 digits) and `Z` or ±hh:mm. */
export const dateTime: Check<string> = (v, path) => {
  const m =
    /^([0-9]{4}-[0-9]{2}-[0-9]{2})T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(\.[0-9]{1,7})?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])$/.exec(
      v,
    );
  if (m === null) bad(path);
  date(m[1] ?? '', path);
  return v;
};

export const npi: Check<string> = (v, path) => (isValidNpi(v) ? v : bad(path));
export const dea: Check<string> = (v, path) => (isValidDea(v) ? v : bad(path));
export const ncpdpId: Check<string> = pattern(/^[0-9]{7}$/);
export const identifier: Check<string> = pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,34}$/);
export const phone: Check<string> = pattern(/^[0-9]{10}$/);
export const state: Check<string> = pattern(/^[A-Z]{2}$/);
export const postalCode: Check<string> = pattern(/^[0-9]{5}([0-9]{4})?$/);
export const country: Check<string> = pattern(/^[A-Z]{2}$/);
export const ndc: Check<string> = pattern(/^[0-9]{11}$/);
export const rxcui: Check<string> = pattern(/^[1-9][0-9]{0,9}$/);
/** NCI Thesaurus concept code (units of measure). */
export const nciCode: Check<string> = pattern(/^C[0-9]{4,6}$/);
export const stateLicense: Check<string> = pattern(/^[A-Za-z0-9-]{1,35}$/);
export const reasonCode: Check<string> = pattern(/^[A-Z0-9]{2,3}$/);
export const descriptionCode: Check<string> = pattern(/^[0-9]{3,4}$/);
export const boolText: Check<boolean> = (v, path) =>
  v === 'true' ? true : v === 'false' ? false : bad(path);

/** Reads a leaf under `c` and checks it. */
export function reqVal<T>(c: Cursor, name: string, check: Check<T>): T {
  return check(c.reqText(name), `${c.path}/${name}`);
}

export function optVal<T>(c: Cursor, name: string, check: Check<T>): T | undefined {
  const v = c.optText(name);
  return v === undefined ? undefined : check(v, `${c.path}/${name}`);
}

/** An object without the keys whose value is undefined (optional elements stay absent). */
export function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
