/**
 * The WebAuthn verification path (W3C Web Authentication Level 3 §7.1 registration, §7.2
 * authentication) over `@simplewebauthn/server`, with Scrip's own decisions made explicit and
 * after the signature is known good:
 *  - user verification (§6.1 flag UV): refused where the caller requires it; a passkey with UV is
 *    multi-factor by itself (possession + PIN/biometric), one without UV is possession only;
 *  - the signature counter (§6.1.1): a value that does not grow (when either side is non-zero)
 *    may be a cloned authenticator and is refused with its own reason, so it can be audited;
 *  - COSE algorithms: an allow-list (ES256, EdDSA, RS256).
 * Attestation is requested as "none": we verify whatever statement arrives but trust no
 * attestation root, so an AAGUID is informative only.
 */
import {
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };

/** COSE algorithm ids (RFC 9053): ES256, EdDSA, RS256. */
export const WEBAUTHN_ALGORITHMS: readonly number[] = [-7, -8, -257];

export const KNOWN_TRANSPORTS: ReadonlySet<string> = new Set([
  'ble',
  'cable',
  'hybrid',
  'internal',
  'nfc',
  'smart-card',
  'usb',
]);

export interface RelyingParty {
  readonly rpId: string;
  /** Allowed origins (exact match). */
  readonly origins: readonly string[];
}

export interface VerifiedRegistration {
  readonly credentialId: Buffer;
  readonly publicKey: Buffer;
  readonly signCount: number;
  readonly aaguid: string;
  readonly format: string;
  readonly userVerified: boolean;
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly transports: string[];
}

export type RegistrationOutcome =
  | { readonly ok: true; readonly credential: VerifiedRegistration }
  | { readonly ok: false; readonly reason: 'invalid' | 'user_verification_required' };

export interface StoredCredential {
  readonly credentialId: Buffer;
  readonly publicKey: Buffer;
  readonly signCount: number;
}

export type AssertionOutcome =
  | {
      readonly ok: true;
      readonly signCount: number;
      readonly userVerified: boolean;
      readonly backedUp: boolean;
    }
  | {
      readonly ok: false;
      readonly reason: 'invalid' | 'user_verification_required' | 'counter_regression';
      /** The counter the authenticator reported (for the audit record of a regression). */
      readonly signCount?: number;
    };

/** The base64url challenge inside a response's clientDataJSON, or undefined if malformed. */
export function challengeOf(clientDataJSON: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const c = (parsed as { challenge?: unknown }).challenge;
    return typeof c === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Verifies an attestation response (§7.1) against one expected challenge. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
  requireUserVerification: boolean,
  algorithms: readonly number[] = WEBAUTHN_ALGORITHMS,
): Promise<RegistrationOutcome> {
  let result;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      expectedType: 'webauthn.create',
      requireUserPresence: true,
      // Checked below, after the attestation is known to be sound, to name the reason.
      requireUserVerification: false,
      supportedAlgorithmIDs: [...algorithms],
    });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!result.verified) return { ok: false, reason: 'invalid' };
  const info = result.registrationInfo;
  if (requireUserVerification && !info.userVerified) {
    return { ok: false, reason: 'user_verification_required' };
  }
  const transports = (response.response.transports ?? []).filter((t) => KNOWN_TRANSPORTS.has(t));
  return {
    ok: true,
    credential: {
      credentialId: Buffer.from(info.credential.id, 'base64url'),
      publicKey: Buffer.from(info.credential.publicKey),
      signCount: info.credential.counter,
      aaguid: info.aaguid,
      format: info.fmt,
      userVerified: info.userVerified,
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backedUp: info.credentialBackedUp,
      transports: [...new Set(transports)].sort(),
    },
  };
}

/** Verifies an assertion (§7.2) by a stored credential against one expected challenge. */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  credential: StoredCredential,
  requireUserVerification: boolean,
): Promise<AssertionOutcome> {
  if (Buffer.from(response.rawId, 'base64url').compare(credential.credentialId) !== 0) {
    return { ok: false, reason: 'invalid' };
  }
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      expectedType: 'webauthn.get',
      credential: {
        id: credential.credentialId.toString('base64url'),
        publicKey: new Uint8Array(credential.publicKey),
        // The counter is compared below, after the signature verified, so a regression is
        // reported as such (and a forged low counter cannot raise a false alarm).
        counter: 0,
      },
      requireUserVerification: false,
    });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!result.verified) return { ok: false, reason: 'invalid' };
  const info = result.authenticationInfo;
  if (requireUserVerification && !info.userVerified) {
    return { ok: false, reason: 'user_verification_required' };
  }
  const next = info.newCounter;
  if ((next > 0 || credential.signCount > 0) && next <= credential.signCount) {
    return { ok: false, reason: 'counter_regression', signCount: next };
  }
  return {
    ok: true,
    signCount: next,
    userVerified: info.userVerified,
    backedUp: info.credentialBackedUp,
  };
}
