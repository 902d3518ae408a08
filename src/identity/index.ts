/**
 * Public API of the identity domain: users and memberships, passwords, TOTP and recovery codes,
 * sessions and step-up, login throttling, bootstrap and invitations.
 */
import { type Clock, type Random, cryptoRandom } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { AccountService } from './account.service.js';
import { noIdentityEvents, type IdentityEvents } from './auth-audit.js';
import { LoginService } from './login.service.js';
import { MfaService } from './mfa.service.js';
import { OnboardingService } from './onboarding.service.js';
import { SessionService } from './session.service.js';
import { LoginThrottle } from './throttle.js';
import { UserAdminService } from './user-admin.service.js';

export { AccountService, type AccountInfo, type Caller } from './account.service.js';
export {
  auditAuth,
  noIdentityEvents,
  type AuthAction,
  type IdentityEvents,
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
} from './session.service.js';
export { hashToken, tokenMatches } from './tokens.js';
export { UserAdminService, type TenantUser } from './user-admin.service.js';

export interface IdentityOptions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly bearerMs: number;
  readonly stepUpMs: number;
  readonly invitationTtlMs: number;
  readonly bootstrapTtlMs: number;
  /** The issuer shown in authenticator apps. */
  readonly issuer: string;
}

/** The identity services, composed once (src/platform.ts). */
export interface Identity {
  readonly sessions: SessionService;
  readonly login: LoginService;
  readonly account: AccountService;
  readonly onboarding: OnboardingService;
  readonly users: UserAdminService;
}

export function composeIdentity(
  db: Database,
  keyring: Keyring,
  clock: Clock,
  options: IdentityOptions,
  events: IdentityEvents = noIdentityEvents,
  random: Random = cryptoRandom,
): Identity {
  const sessions = new SessionService(db, clock, random, options);
  const mfa = new MfaService(keyring, clock, random, options.issuer);
  const throttle = new LoginThrottle(clock);
  return {
    sessions,
    login: new LoginService(db, clock, sessions, mfa, throttle, events),
    account: new AccountService(db, clock, sessions, mfa, throttle),
    onboarding: new OnboardingService(db, clock, random, sessions, options),
    users: new UserAdminService(db, clock, sessions),
  };
}
