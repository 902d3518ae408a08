/**
 * Opaque secret tokens (sessions, CSRF, bearer, invitations, bootstrap): 32 random bytes,
 * base64url, stored only as their SHA-256. A 256-bit random token needs no slow hash: the hash
 * only keeps a database reader from presenting the token (OWASP Session Management Cheat Sheet).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { cryptoRandom, type Random } from '../core/index.js';

export const TOKEN_BYTES = 32;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedToken {
  /** Shown to its holder once; never stored, never logged. */
  readonly token: string;
  /** SHA-256 of the token's text: what the database keeps. */
  readonly hash: Buffer;
}

export function issueToken(random: Random = cryptoRandom): IssuedToken {
  const token = random.bytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** True when the text could be a token we issued (cheap filter before any database work). */
export function isTokenShaped(token: string): boolean {
  return TOKEN_RE.test(token);
}

/** Constant-time comparison of a presented token with a stored hash. */
export function tokenMatches(token: string, storedHash: Buffer): boolean {
  const h = hashToken(token);
  return h.byteLength === storedHash.byteLength && timingSafeEqual(h, storedHash);
}

/** Emails compare case-insensitively (NFKC, trimmed, lower case). */
export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
