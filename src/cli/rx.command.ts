import { readFileSync } from 'node:fs';
import { AppError, isAppError } from '../core/index.js';
import type { Jwks } from '../crypto/jws.js';
import { verifyPrescriptionJws } from '../prescribing/canonical-prescription.js';
import { printJson } from './output.js';

/**
 * `scrip rx verify FILE --jwks FILE|URL`: checks a signed prescription offline, without a
 * database or a key provider. FILE holds the compact JWS (as returned by
 * `GET /api/v1/prescriptions/:id`, or a JSON object with a `jws` member); the JWKS is the
 * server's `/.well-known/jwks.json`, saved to a file or fetched from its HTTPS URL (`http://` and other schemes are refused). Verification
 * follows RFC 7515 §5.2 with ES256 only, and the payload must be the RFC 8785 canonical form.
 */
export async function rxCommand(
  sub: string | undefined,
  rest: readonly string[],
  values: Readonly<Record<string, unknown>>,
): Promise<number> {
  const file = rest[0];
  const jwksSource = typeof values.jwks === 'string' ? values.jwks : undefined;
  if (sub !== 'verify' || file === undefined || jwksSource === undefined) {
    process.stderr.write('usage: scrip rx verify FILE --jwks FILE|URL\n');
    return 2;
  }
  try {
    const jws = readJws(readFileSync(file, 'utf8'));
    const jwks = await loadJwks(jwksSource);
    const doc = verifyPrescriptionJws(jws, jwks);
    printJson({ valid: true, prescription: doc });
    return 0;
  } catch (err) {
    if (!isAppError(err)) throw err;
    printJson({ valid: false, code: err.code, detail: err.detail ?? null });
    return 1;
  }
}

/** The JWS from a file: the compact form itself, or `{ "jws": "..." }`. */
export function readJws(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    const parsed = JSON.parse(trimmed) as { jws?: unknown };
    if (typeof parsed.jws === 'string') return parsed.jws;
  } catch {
    // falls through to the error below
  }
  throw new AppError('validation_failed', 'FILE holds neither a compact JWS nor {"jws": ...}', {
    detail: 'file',
  });
}

/**
 * The JWKS from a file or an `https://` URL. Any other URL scheme is refused before anything is
 * fetched: a JWKS over plain HTTP could be swapped in transit and make a forgery verify. The
 * fetch does not follow redirects (one to `http://` would undo the rule).
 */
export async function loadJwks(source: string): Promise<Jwks> {
  let text: string;
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source)) {
    if (!/^https:\/\//i.test(source)) {
      throw new AppError('validation_failed', 'the JWKS URL must be https://', { detail: 'jwks' });
    }
    let res: Response;
    try {
      res = await fetch(source, { headers: { accept: 'application/json' }, redirect: 'error' });
    } catch {
      throw new AppError('unavailable', 'the JWKS could not be fetched', { detail: 'jwks' });
    }
    if (!res.ok) throw new AppError('unavailable', `JWKS fetch answered ${String(res.status)}`);
    text = await res.text();
  } else {
    text = readFileSync(source, 'utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !Array.isArray((parsed as { keys?: unknown }).keys)
  ) {
    throw new AppError('validation_failed', 'not a JWK Set', { detail: 'jwks' });
  }
  return parsed as Jwks;
}
