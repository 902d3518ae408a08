/**
 * Base32 (RFC 4648 §6, upper-case alphabet A–Z 2–7) without padding, as used for TOTP shared
 * secrets in `otpauth://` URIs (Google Authenticator Key Uri Format). This is an encoding, not
 * cryptography; decoding is strict so that each byte string has exactly one accepted text form.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE32_RE = /^[A-Z2-7]*$/;

/** Encodes bytes as unpadded RFC 4648 §6 base32. */
export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff; // at most 4 + 8 pending bits are ever needed
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET.charAt((buffer >>> bits) & 31);
    }
  }
  // RFC 4648 §6: a final partial quantum is padded with zero bits on the right.
  if (bits > 0) out += ALPHABET.charAt((buffer << (5 - bits)) & 31);
  return out;
}

/**
 * Decodes unpadded upper-case base32, or returns `undefined` when the text is not the canonical
 * encoding of some byte string: characters outside the alphabet (including `=` and lower case),
 * an impossible length (8n+1, 8n+3, 8n+6), or non-zero trailing bits (RFC 4648 §3.5 lets
 * decoders reject those). Callers that accept human input upper-case it and strip spaces first.
 */
export function decodeBase32Strict(text: string): Buffer | undefined {
  if (!BASE32_RE.test(text)) return undefined;
  const rem = text.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) return undefined;
  const out = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const ch of text) {
    buffer = ((buffer << 5) | ALPHABET.indexOf(ch)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
