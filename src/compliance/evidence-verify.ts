/**
 * Offline verification of an evidence bundle (no database, no key provider): the manifest is the
 * canonical JSON (RFC 8785) it claims to be, its detached ES256 JWS (RFC 7515 Appendix F) verifies
 * with the bundled public key (and, when given, that key is one the verifier trusts, e.g. the
 * platform's /.well-known/jwks.json), every listed file has its SHA-256 and size, and no file is
 * missing or extra. Every problem names the file it is about.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAppError } from '../core/index.js';
import { canonicalize } from '../crypto/jcs.js';
import { importEs256Jwk, verifyCompactJws, type Jwks } from '../crypto/jws.js';

export const BUNDLE_FORMAT = 'scrip-evidence-bundle/v1';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.jws';
export const KEY_FILE = 'signing-key.jwk.json';
/** JWS `typ` of the manifest signature (RFC 8725 §3.11 explicit typing). */
export const MANIFEST_JWS_TYP = 'scrip-evidence+jws';
export const CONTROL_FILES: readonly string[] = [MANIFEST_FILE, SIGNATURE_FILE, KEY_FILE];

export interface ManifestEntry {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface Manifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly tenantId: string;
  readonly createdAt: string;
  readonly keyId: string;
  readonly files: readonly ManifestEntry[];
}

export interface BundleProblem {
  readonly file: string;
  readonly problem: string;
}

export interface BundleVerifyReport {
  readonly ok: boolean;
  readonly files: number;
  readonly keyId: string | null;
  /** True when the signing key was checked against a key set the verifier trusts. */
  readonly keyTrusted: boolean;
  readonly problems: readonly BundleProblem[];
}

/** Paths inside a bundle: relative, forward slashes, no dot segments, a safe alphabet. */
const PATH_RE =
  /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
const HEX64 = /^[0-9a-f]{64}$/;
const COMPACT_DETACHED = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\n$/;

export function isBundlePath(path: string): boolean {
  return path.length <= 200 && PATH_RE.test(path);
}

/** The canonical bytes a JSON control file must hold: RFC 8785 JCS and one newline. */
export function canonicalFile(value: unknown): Buffer {
  return Buffer.from(`${canonicalize(value)}\n`, 'utf8');
}

/** Every regular file under `dir`, relative, with `/` separators; other entries are problems. */
function listFiles(dir: string, problems: BundleProblem[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel === '' ? dir : join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out.push(r);
      else problems.push({ file: r, problem: 'not a regular file (links are not allowed)' });
    }
  };
  walk('');
  return out;
}

function parseManifest(bytes: Buffer, problems: BundleProblem[]): Manifest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    problems.push({ file: MANIFEST_FILE, problem: 'not JSON' });
    return undefined;
  }
  try {
    if (!canonicalFile(parsed).equals(bytes)) {
      problems.push({ file: MANIFEST_FILE, problem: 'not in canonical form (RFC 8785)' });
      return undefined;
    }
  } catch {
    problems.push({ file: MANIFEST_FILE, problem: 'not canonicalizable JSON' });
    return undefined;
  }
  const m = parsed as Partial<Manifest> | null;
  const ok =
    typeof m === 'object' &&
    m !== null &&
    m.format === BUNDLE_FORMAT &&
    typeof m.tenantId === 'string' &&
    typeof m.createdAt === 'string' &&
    typeof m.keyId === 'string' &&
    Array.isArray(m.files) &&
    m.files.every(
      (f: Partial<ManifestEntry> | null) =>
        typeof f === 'object' &&
        f !== null &&
        typeof f.path === 'string' &&
        isBundlePath(f.path) &&
        !CONTROL_FILES.includes(f.path) &&
        typeof f.sha256 === 'string' &&
        HEX64.test(f.sha256) &&
        Number.isSafeInteger(f.bytes) &&
        (f.bytes ?? -1) >= 0,
    );
  if (!ok) {
    problems.push({ file: MANIFEST_FILE, problem: `not a ${BUNDLE_FORMAT} manifest` });
    return undefined;
  }
  const manifest = m as Manifest;
  if (new Set(manifest.files.map((f) => f.path)).size !== manifest.files.length) {
    problems.push({ file: MANIFEST_FILE, problem: 'lists a file twice' });
    return undefined;
  }
  return manifest;
}

/** Is this JWK (by kid and coordinates) in the trusted set? */
function trusted(jwk: Record<string, unknown>, set: Jwks): boolean {
  return set.keys.some((k) => {
    if (typeof k !== 'object' || k === null) return false;
    const t = k as Record<string, unknown>;
    return t.kid === jwk.kid && t.x === jwk.x && t.y === jwk.y && t.crv === jwk.crv;
  });
}

/**
 * Verifies the bundle in `dir`; see the module comment. Collects every problem rather than
 * stopping at the first, so a tampered bundle reports all it can.
 */
export function verifyEvidenceBundle(
  dir: string,
  options: { trustedKeys?: Jwks } = {},
): BundleVerifyReport {
  const problems: BundleProblem[] = [];
  let files: string[];
  try {
    files = listFiles(dir, problems);
  } catch {
    return {
      ok: false,
      files: 0,
      keyId: null,
      keyTrusted: false,
      problems: [{ file: dir, problem: 'cannot read the bundle directory' }],
    };
  }
  const present = new Set(files);
  const read = (f: string): Buffer | undefined => {
    if (!present.has(f)) {
      problems.push({ file: f, problem: 'missing' });
      return undefined;
    }
    return readFileSync(join(dir, f));
  };
  const manifestBytes = read(MANIFEST_FILE);
  const jwsBytes = read(SIGNATURE_FILE);
  const keyBytes = read(KEY_FILE);
  const manifest = manifestBytes === undefined ? undefined : parseManifest(manifestBytes, problems);

  let keyTrusted = false;
  let key: ReturnType<typeof importEs256Jwk> | undefined;
  if (keyBytes !== undefined) {
    try {
      const jwk = JSON.parse(keyBytes.toString('utf8')) as Record<string, unknown>;
      if (!canonicalFile(jwk).equals(keyBytes)) throw new TypeError('not canonical');
      key = importEs256Jwk(jwk);
      if (manifest !== undefined && jwk.kid !== manifest.keyId) {
        problems.push({ file: KEY_FILE, problem: 'its kid is not the key the manifest names' });
        key = undefined;
      } else if (options.trustedKeys !== undefined) {
        keyTrusted = trusted(jwk, options.trustedKeys);
        if (!keyTrusted) {
          problems.push({ file: KEY_FILE, problem: 'not one of the trusted signing keys' });
        }
      }
    } catch {
      problems.push({ file: KEY_FILE, problem: 'not a canonical ES256 public JWK' });
      key = undefined;
    }
  }

  if (jwsBytes !== undefined) {
    const jws = jwsBytes.toString('latin1');
    if (!COMPACT_DETACHED.test(jws)) {
      problems.push({ file: SIGNATURE_FILE, problem: 'not a detached compact JWS' });
    } else if (manifest !== undefined && manifestBytes !== undefined && key !== undefined) {
      try {
        verifyCompactJws(jws.slice(0, -1), key, {
          detachedPayload: manifestBytes.subarray(0, manifestBytes.length - 1),
          typ: MANIFEST_JWS_TYP,
          kid: manifest.keyId,
        });
      } catch (err) {
        // Either file may have been changed: both are named.
        const why = isAppError(err) ? (err.detail ?? err.code) : 'invalid';
        problems.push(
          { file: MANIFEST_FILE, problem: `does not match its signature in ${SIGNATURE_FILE}` },
          {
            file: SIGNATURE_FILE,
            problem: `the signature over ${MANIFEST_FILE} does not verify (${why})`,
          },
        );
      }
    }
  }

  if (manifest !== undefined) {
    const listed = new Set(manifest.files.map((f) => f.path));
    for (const f of manifest.files) {
      if (!present.has(f.path)) {
        problems.push({ file: f.path, problem: 'listed in the manifest but missing' });
        continue;
      }
      const bytes = readFileSync(join(dir, f.path));
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== f.bytes || digest !== f.sha256) {
        problems.push({ file: f.path, problem: 'SHA-256 does not match the manifest' });
      }
    }
    for (const f of files) {
      if (!listed.has(f) && !CONTROL_FILES.includes(f)) {
        problems.push({ file: f, problem: 'not listed in the manifest' });
      }
    }
  }
  return {
    ok: problems.length === 0,
    files: manifest?.files.length ?? 0,
    keyId: manifest?.keyId ?? null,
    keyTrusted,
    problems,
  };
}
