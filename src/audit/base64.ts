/**
 * Strict standard base64 (RFC 4648 §4, with padding), as signed notes, checkpoints and proof
 * bundles use it. Node's `Buffer.from(s, 'base64')` silently skips invalid characters and accepts
 * the URL-safe alphabet, so it cannot be used alone on untrusted input.
 */

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes canonical standard base64, or returns `undefined` for anything else: wrong alphabet,
 * missing or extra padding, whitespace, or non-zero trailing bits (so each byte string has exactly
 * one accepted encoding).
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!STD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
