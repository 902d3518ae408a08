/**
 * Byte encodings shared by the crypto building blocks: strict base64url (RFC 4648 §5, as used by
 * RFC 7515 §2) and unambiguous length-prefixed framing for associated data and MAC inputs.
 *
 * Node's `Buffer.from(s, 'base64url')` silently skips invalid characters and accepts padding, so
 * two different strings can decode to the same bytes. Everything that authenticates or indexes
 * data decodes through {@link decodeBase64UrlStrict} instead.
 */

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;
const LONE_SURROGATE_RE = /\p{Cs}/u;

/** base64url without padding (RFC 4648 §5; RFC 7515 §2 "Base64url Encoding"). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Decodes unpadded base64url, or returns `undefined` when the text is not the canonical encoding
 * of some byte string: characters outside the alphabet, padding, an impossible length (4n+1), or
 * non-zero trailing bits (RFC 4648 §3.5 lets decoders reject those; we do, so that each byte string
 * has exactly one accepted text form).
 */
export function decodeBase64UrlStrict(text: string): Buffer | undefined {
  if (!BASE64URL_RE.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** True when `text` contains an unpaired UTF-16 surrogate (which UTF-8 cannot represent). */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE_RE.test(text);
}

/**
 * UTF-8 bytes of a string, refusing unpaired surrogates: `Buffer.from` would replace each with
 * U+FFFD, so two different strings would encode to the same bytes and collide in AAD or MAC input.
 */
export function utf8Strict(text: string, what: string): Buffer {
  if (hasLoneSurrogate(text)) throw new TypeError(`${what} contains an unpaired UTF-16 surrogate`);
  return Buffer.from(text, 'utf8');
}

/**
 * Frames byte strings as `u32be(length) ‖ bytes` each, so that no two different sequences of
 * parts produce the same output (("ab","c") and ("a","bc") differ).
 */
export function lengthPrefixed(parts: readonly Uint8Array[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part.byteLength > 0xffff_ffff) throw new TypeError('length-prefixed part exceeds 2^32-1');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(part.byteLength, 0);
    chunks.push(len, Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  }
  return Buffer.concat(chunks);
}
