import type { FastifyRequest } from 'fastify';
import type { TenantId } from '../core/index.js';

/** Who is calling. Identity (sessions, MFA) fills this in; until then nobody is signed in. */
export interface Principal {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly sessionId: string;
  readonly permissions: ReadonlySet<string>;
  /** The roles held in this tenant (context policy by role, minimum-necessary views). */
  readonly roles: readonly string[];
  /** An enrolment-only session: it may reach only routes declaring `session`. */
  readonly restricted?: boolean;
}

/** The authentication port: resolves a request to a principal, or undefined. */
export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Principal | undefined>;
  /**
   * Consumes a fresh second factor for `action` or throws `step_up_required`. An authenticator
   * without it refuses every route that declares a step-up.
   */
  requireStepUp?(principal: Principal, action: string): Promise<void>;
}

/** The context-policy port: throws `forbidden` or `step_up_required` when the context fails. */
export interface ContextCheck {
  check(request: FastifyRequest, principal: Principal): Promise<void>;
}

export const noAuthentication: Authenticator = {
  authenticate: () => Promise.resolve(undefined),
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}
