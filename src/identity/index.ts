/**
 * Public API of the identity domain: users and memberships, passwords, TOTP and recovery codes,
 * sessions and step-up, login throttling, bootstrap and invitations, prescriber identity proofing
 * against a signed registry, and two-person EPCS permission.
 */
import { type Clock, type Random, cryptoRandom } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { AccountService } from './account.service.js';
import { RegistrySource, type AuthoritativeSource } from './authoritative-source.js';
import { EpcsPermissionService } from './epcs-permission.service.js';
import { ProofingService } from './proofing.service.js';
import { noIdentityEvents, type IdentityEvents } from './auth-audit.js';
import { LoginService } from './login.service.js';
import { MfaService } from './mfa.service.js';
import { OnboardingService } from './onboarding.service.js';
import { SessionService } from './session.service.js';
import { LoginThrottle } from './throttle.js';
import { UserAdminService } from './user-admin.service.js';
import { WebAuthnCredentialService } from './webauthn-credentials.service.js';
import { WebAuthnService, type WebAuthnOptions } from './webauthn.service.js';
import { composeSso, type SsoService } from './sso.service.js';
import type { SsoConfigService, SsoEnableGuard } from './sso-config.service.js';
import type { SsoDomainService } from './sso-domains.js';

export {
  AccountService,
  type AccountInfo,
  type Caller,
  type OwnSession,
} from './account.service.js';
export {
  auditAuth,
  noIdentityEvents,
  type AuthAction,
  type IdentityEvents,
  type ProofingAction,
  type RequestMeta,
} from './auth-audit.js';
export { LoginService, type LoginInput, type LoginResult } from './login.service.js';
export { MFA_TOTP, MfaService, type TotpEnrolment } from './mfa.service.js';
export { OnboardingService, type IssuedLink, type NewAccount } from './onboarding.service.js';
export { BOOTSTRAP_ROLES, ROLES, isRole, permissionsFor, type Role } from './roles.js';
export {
  MAX_ABSOLUTE_MS,
  MAX_BEARER_MS,
  MAX_IDLE_MS,
  SessionService,
  type IssuedSession,
  type ResolvedSession,
  type Session,
  type SessionKind,
  type StepUpCredential,
} from './session.service.js';
export { hashToken, tokenMatches } from './tokens.js';
export { decodeBase32Strict } from './base32.js';
export { totp } from './totp.js';
export { deaCheckDigit } from './dea.js';
export { npiCheckDigit } from './npi.js';
export { UserAdminService, type TenantUser } from './user-admin.service.js';
export {
  WEBAUTHN_CHALLENGE_TTL_MS,
  WebAuthnService,
  type PasskeyRegistration,
  type WebAuthnOptions,
} from './webauthn.service.js';
export { WebAuthnCredentialService } from './webauthn-credentials.service.js';
export type { PasskeySummary } from './webauthn-common.js';
export type { AuthenticationResponseJSON, RegistrationResponseJSON } from './webauthn.verify.js';
export { idpProvedMfa } from './sso-checks.js';
export {
  normalizeSsoDomain,
  SSO_DOMAIN_ADDED,
  SSO_DOMAIN_REMOVED,
  SsoDomainService,
  type SsoDiscovery,
  type SsoDomain,
} from './sso-domains.js';
export {
  composeSso,
  SsoService,
  type SecondFactor,
  type SsoOptions,
  type SsoResult,
  type SsoStart,
} from './sso.service.js';
export {
  SSO_CALLBACK_PATH,
  SSO_WEB_CALLBACK_PATH,
  SSO_PROVIDERS,
  SsoConfigService,
  allowSsoEnable,
  validateSsoConfig,
  type SsoEnableGuard,
  type SsoConfigInput,
  type SsoConfigView,
} from './sso-config.service.js';
export { SSO_TRANSACTIONS } from './sso-transactions.js';
export {
  importRegistryFile,
  licenceKey,
  RegistrySource,
  type AuthoritativeSource,
  type Lookup,
  type RegistryImportResult,
} from './authoritative-source.js';
export {
  DEA_SCHEDULES,
  loadRegistryPublicKey,
  REGISTRY_FORMAT,
  signRegistryFile,
  verifyRegistryFile,
  type DeaRecord,
  type DeaSchedule,
  type LicenceRecord,
  type NpiRecord,
  type RegistryPayload,
} from './registry-file.js';
export {
  EVIDENCE_TYPES,
  ProofingService,
  type Evidence,
  type EvidenceType,
  type Proofing,
  type ProofingInput,
} from './proofing.service.js';
export {
  currentEpcsPermission,
  epcsSigningEligibility,
  findExpiringCredentials,
  hasCurrentBinding,
  type Eligibility,
  type EligibilityReason,
  type EpcsPermissionState,
  type ExpiryFinding,
  type SigningContext,
} from './epcs-eligibility.js';
export {
  EPCS_APPROVE_ACTION,
  EpcsPermissionService,
  isDeaRegistrant,
  type EpcsChange,
  type EpcsPermissionRequest,
} from './epcs-permission.service.js';

export interface IdentityOptions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly bearerMs: number;
  readonly stepUpMs: number;
  readonly invitationTtlMs: number;
  readonly bootstrapTtlMs: number;
  /** The issuer shown in authenticator apps. */
  readonly issuer: string;
  /** WebAuthn relying party (default: localhost, https://localhost:8443). */
  readonly webauthn?: WebAuthnOptions;
  /** How long an EPCS permission request waits for its approval (default 24 hours). */
  readonly epcsRequestTtlMs?: number;
  /** Consulted before an SSO configuration is saved enabled (the compliance integration gate). */
  readonly ssoEnableGuard?: SsoEnableGuard;
}

/** The identity services, composed once (src/platform.ts). */
export interface Identity {
  readonly sessions: SessionService;
  readonly login: LoginService;
  readonly account: AccountService;
  readonly onboarding: OnboardingService;
  readonly users: UserAdminService;
  /** WebAuthn ceremonies, and passkey management by users and administrators. */
  readonly webauthn: WebAuthnService;
  readonly passkeys: WebAuthnCredentialService;
  readonly proofing: ProofingService;
  readonly epcs: EpcsPermissionService;
  /** Sign-in with the tenant's OpenID Connect IdP, and its configuration. */
  readonly sso: SsoService;
  readonly ssoConfig: SsoConfigService;
  /** Email domains mapped to tenants by the operator (home-realm discovery). */
  readonly ssoDomains: SsoDomainService;
}

export function composeIdentity(
  db: Database,
  keyring: Keyring,
  clock: Clock,
  options: IdentityOptions,
  events: IdentityEvents = noIdentityEvents,
  random: Random = cryptoRandom,
  source: AuthoritativeSource = new RegistrySource(db),
): Identity {
  const sessions = new SessionService(db, clock, random, options);
  const mfa = new MfaService(keyring, clock, random, options.issuer);
  const throttle = new LoginThrottle(clock);
  const webauthn = new WebAuthnService(db, clock, random, sessions, mfa, throttle, {
    rpId: 'localhost',
    rpName: 'Scrip',
    origins: ['https://localhost:8443'],
    ...options.webauthn,
  });
  return {
    sessions,
    login: new LoginService(db, clock, sessions, mfa, throttle, events, webauthn),
    account: new AccountService(db, clock, sessions, mfa, throttle),
    onboarding: new OnboardingService(db, clock, random, sessions, options),
    users: new UserAdminService(db, clock, sessions),
    webauthn,
    passkeys: new WebAuthnCredentialService(db, clock, mfa),
    proofing: new ProofingService(db, clock, source),
    epcs: new EpcsPermissionService(db, clock, {
      requestTtlMs: options.epcsRequestTtlMs ?? 24 * 3_600_000,
    }),
    ...composeSso(db, keyring, clock, random, sessions, mfa, events, {
      enableGuard: options.ssoEnableGuard,
    }),
  };
}
