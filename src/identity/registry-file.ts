/**
 * The signed registry file: NPI (NPPES), DEA registration (CSA) and state licence records that
 * an operator exports from the authoritative sources and signs, so that Scrip can verify
 * prescribers' credentials offline (21 CFR 1311.105(a): the credential service provider checks
 * the DEA registration and state authorisation against the authoritative data).
 *
 * Format: a JSON object `{ "payload": RegistryPayload, "signature": JWS }` where the signature is
 * a detached ES256 compact JWS (RFC 7515 Appendix F, `typ: scrip-registry+jws`) over the RFC 8785
 * canonical bytes of `payload`. It is verified against the operator's public key (PEM or JWK,
 * `SCRIP_REGISTRY_PUBLIC_KEY_FILE`); an unsigned, tampered or foreign-signed file is refused
 * before any record is read.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../core/index.js';
import { canonicalizeToBytes } from '../crypto/jcs.js';
import {
  importEs256Jwk,
  signCompactJws,
  verifyCompactJws,
  type Jwks,
  type JwsSigner,
} from '../crypto/jws.js';
import { validateDea } from './dea.js';
import { validateNpi } from './npi.js';

export const REGISTRY_FORMAT = 'scrip-registry/1';
export const REGISTRY_JWS_TYP = 'scrip-registry+jws';

/** DEA schedules a registration can cover (21 CFR 1308; N = non-narcotic). */
export const DEA_SCHEDULES = ['2', '2N', '3', '3N', '4', '5'] as const;
export type DeaSchedule = (typeof DEA_SCHEDULES)[number];

const DateOnly = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' });
const State = Type.String({ pattern: '^[A-Z]{2}$' });
const Name = Type.String({ minLength: 1, maxLength: 100 });

export const NpiRecordSchema = Type.Object(
  {
    npi: Type.String({ pattern: '^[0-9]{10}$' }),
    lastName: Name,
    firstName: Type.Optional(Name),
    status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  },
  { additionalProperties: false },
);

export const DeaRecordSchema = Type.Object(
  {
    deaNumber: Type.String({ pattern: '^[A-Z][A-Z9][0-9]{7}$' }),
    registrantLastName: Name,
    npi: Type.Optional(Type.String({ pattern: '^[0-9]{10}$' })),
    schedules: Type.Array(Type.Union(DEA_SCHEDULES.map((s) => Type.Literal(s))), {
      minItems: 1,
      maxItems: 6,
      uniqueItems: true,
    }),
    state: State,
    expiresOn: DateOnly,
    status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('retired')]),
  },
  { additionalProperties: false },
);

export const LicenceRecordSchema = Type.Object(
  {
    state: State,
    number: Type.String({ pattern: '^[A-Z0-9-]{1,40}$' }),
    lastName: Name,
    npi: Type.Optional(Type.String({ pattern: '^[0-9]{10}$' })),
    expiresOn: DateOnly,
    status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  },
  { additionalProperties: false },
);

export const RegistryPayloadSchema = Type.Object(
  {
    format: Type.Literal(REGISTRY_FORMAT),
    /** Which export this is, e.g. `nppes`, `dea-csa`, `board:CA`; replay is refused per source. */
    source: Type.String({ pattern: '^[a-z0-9][a-z0-9:._-]{0,63}$' }),
    issuedAt: Type.String({
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$',
    }),
    npi: Type.Array(NpiRecordSchema, { maxItems: 1_000_000 }),
    dea: Type.Array(DeaRecordSchema, { maxItems: 1_000_000 }),
    licences: Type.Array(LicenceRecordSchema, { maxItems: 1_000_000 }),
  },
  { additionalProperties: false },
);

export type NpiRecord = Static<typeof NpiRecordSchema>;
export type DeaRecord = Static<typeof DeaRecordSchema>;
export type LicenceRecord = Static<typeof LicenceRecordSchema>;
export type RegistryPayload = Static<typeof RegistryPayloadSchema>;

export interface VerifiedRegistry {
  readonly payload: RegistryPayload;
  readonly kid: string;
}

const refused = (detail: string, message = 'registry file refused'): AppError =>
  new AppError('integrity_error', message, { detail });

/** Signs a payload into the registry file text (operator tooling, tests, demo data). */
export async function signRegistryFile(
  payload: RegistryPayload,
  signer: JwsSigner,
  kid: string,
): Promise<string> {
  const signature = await signCompactJws(canonicalizeToBytes(payload), {
    kid,
    signer,
    typ: REGISTRY_JWS_TYP,
    detached: true,
  });
  return `${JSON.stringify({ payload, signature }, null, 1)}\n`;
}

/**
 * Reads the operator's registry public key: a PEM SubjectPublicKeyInfo, a JWK, or a JWK Set.
 * Only P-256 public keys are accepted.
 */
export function loadRegistryPublicKey(path: string): KeyObject | Jwks {
  const text = readFileSync(path, 'utf8').trim();
  if (text.startsWith('-----BEGIN')) {
    const key = createPublicKey(text);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new AppError('config_invalid', 'the registry public key must be an EC P-256 key', {
        detail: 'SCRIP_REGISTRY_PUBLIC_KEY_FILE',
      });
    }
    return key;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new AppError('config_invalid', 'the registry public key is neither PEM nor JWK', {
      detail: 'SCRIP_REGISTRY_PUBLIC_KEY_FILE',
      cause,
    });
  }
  if (typeof parsed === 'object' && parsed !== null && 'keys' in parsed) return parsed as Jwks;
  return importEs256Jwk(parsed);
}

/**
 * Verifies and parses a registry file. Order matters: the signature is checked over the
 * canonical payload before the payload is trusted, then the schema and every identifier's check
 * digit (a signed but malformed record is still refused, naming its index).
 *
 * @throws AppError `integrity_error` (detail `unsigned`, `malformed`, `bad_signature`, ...) or
 *   `validation_failed` (detail names the first bad record).
 */
export function verifyRegistryFile(text: string, key: KeyObject | Jwks): VerifiedRegistry {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw refused('malformed');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw refused('malformed');
  const { payload, signature } = doc as { payload?: unknown; signature?: unknown };
  if (typeof signature !== 'string' || signature === '') throw refused('unsigned');
  if (typeof payload !== 'object' || payload === null) throw refused('malformed');
  let bytes: Buffer;
  try {
    bytes = canonicalizeToBytes(payload);
  } catch {
    throw refused('malformed');
  }
  const verified = verifyCompactJws(signature, key, {
    detachedPayload: bytes,
    typ: REGISTRY_JWS_TYP,
  });
  if (!Value.Check(RegistryPayloadSchema, payload)) {
    const first = Value.Errors(RegistryPayloadSchema, payload).First();
    throw new AppError('validation_failed', 'registry payload does not match the format', {
      detail: first === undefined ? 'payload' : `payload${first.path}`,
    });
  }
  checkIdentifiers(payload);
  return { payload, kid: verified.header.kid ?? '' };
}

function checkIdentifiers(p: RegistryPayload): void {
  const bad = (detail: string): AppError =>
    new AppError('validation_failed', 'registry record refused', { detail });
  p.npi.forEach((r, i) => {
    if (validateNpi(r.npi).length > 0) throw bad(`npi[${String(i)}]`);
  });
  p.dea.forEach((r, i) => {
    if (validateDea(r.deaNumber, { lastName: r.registrantLastName }).length > 0) {
      throw bad(`dea[${String(i)}]`);
    }
    if (r.npi !== undefined && validateNpi(r.npi).length > 0) throw bad(`dea[${String(i)}].npi`);
  });
  p.licences.forEach((r, i) => {
    if (r.npi !== undefined && validateNpi(r.npi).length > 0) {
      throw bad(`licences[${String(i)}].npi`);
    }
  });
}
