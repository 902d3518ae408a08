/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so that a value can
 * be hashed or signed and re-verified after a round trip through any JSON tooling.
 *
 * This is serialisation, not cryptography; RFC 8785 §3.2 defines it in terms of ECMAScript's own
 * `JSON.stringify` primitives, which this module reuses for strings and numbers.
 *
 * Accepted input is the JSON data model only (RFC 8785 §3.1, I-JSON per RFC 7493): `null`,
 * booleans, finite numbers, strings without unpaired surrogates, arrays without holes, and plain
 * objects (prototype `Object.prototype` or `null`) with string keys. Anything else (undefined,
 * functions, symbols, BigInt, NaN/±Infinity, Date, Map, Buffer, class instances, cycles) throws
 * `TypeError`: `JSON.stringify` would silently drop, coerce or call `toJSON` on those, and a
 * signature over a silently changed value is worse than an error.
 */

const LONE_SURROGATE_RE = /\p{Cs}/u;

function assertWellFormed(text: string, what: string): void {
  // RFC 8785 §3.2.2.2 / RFC 7493 §2.1: strings must be valid Unicode, so unpaired surrogates fail.
  if (LONE_SURROGATE_RE.test(text)) {
    throw new TypeError(`JCS: ${what} contains an unpaired UTF-16 surrogate`);
  }
}

/**
 * RFC 8785 §3.2.2.3: numbers serialise exactly as ECMAScript Number::toString (ES2023 §6.1.6.1.20),
 * which is what `JSON.stringify` uses for finite numbers; -0 becomes "0". NaN and ±Infinity have
 * no JSON form and are rejected.
 */
function serializeNumber(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError('JCS: non-finite numbers are not JSON');
  return JSON.stringify(value);
}

/**
 * RFC 8785 §3.2.2.2: string escaping as `JSON.stringify` does it: `\"`, `\\`, `\b \f \n \r \t`,
 * other C0 controls as lower-case `\u00xx`, everything else (including U+007F and non-ASCII)
 * literally.
 */
function serializeString(value: string): string {
  assertWellFormed(value, 'string');
  return JSON.stringify(value);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serialize(value: unknown, ancestors: Set<object>, path: string): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value);
    case 'number':
      return serializeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new TypeError(`JCS: ${typeof value} at ${path} is not JSON`);
    case 'object':
      return value === null ? 'null' : serializeContainer(value, ancestors, path);
  }
}

function serializeContainer(value: object, ancestors: Set<object>, path: string): string {
  if (ancestors.has(value)) throw new TypeError(`JCS: cyclic structure at ${path}`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return serializeArray(value, ancestors, path);
    if (!isPlainObject(value)) {
      throw new TypeError(`JCS: non-plain object at ${path} is not JSON`);
    }
    return serializeObject(value, ancestors, path);
  } finally {
    // Only the current path counts as a cycle; a shared, acyclic sub-value may appear twice.
    ancestors.delete(value);
  }
}

function serializeArray(value: readonly unknown[], ancestors: Set<object>, path: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 1) {
    const childPath = `${path}[${String(i)}]`;
    if (!(i in value)) throw new TypeError(`JCS: sparse array hole at ${childPath}`);
    parts.push(serialize(value[i], ancestors, childPath));
  }
  return `[${parts.join(',')}]`;
}

/**
 * RFC 8785 §3.2.3: members sorted by key, comparing keys as arrays of UTF-16 code units, which is
 * exactly what `Array.prototype.sort` without a comparator does; not locale-aware.
 */
function serializeObject(
  value: Record<string, unknown>,
  ancestors: Set<object>,
  path: string,
): string {
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new TypeError(`JCS: symbol-keyed property at ${path} is not JSON`);
  }
  const keys = Object.keys(value).sort();
  const members = keys.map((key) => {
    const childPath = `${path}.${key}`;
    return `${serializeString(key)}:${serialize(value[key], ancestors, childPath)}`;
  });
  return `{${members.join(',')}}`;
}

/**
 * Canonical JSON text of `value` per RFC 8785: no whitespace (§3.2.1), literals (§3.2.2.1),
 * strings (§3.2.2.2), numbers (§3.2.2.3), sorted object members (§3.2.3).
 *
 * @throws TypeError when `value` is outside the JSON data model (see the module comment).
 */
export function canonicalize(value: unknown): string {
  return serialize(value, new Set(), '$');
}

/**
 * The canonical form as UTF-8 bytes (RFC 8785 §3.2.4), which is what gets hashed or signed.
 *
 * @throws TypeError when `value` is outside the JSON data model.
 */
export function canonicalizeToBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
