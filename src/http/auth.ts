import type { FastifyRequest } from 'fastify';
import type { TenantId } from '../core/index.js';

/** Who is calling. Identity (sessions, MFA) fills this in; until then nobody is signed in. */
export interface Principal {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly sessionId: string;
  readonly permissions: ReadonlySet<string>;
}

/** The authentication port: resolves a request to a principal, or undefined. */
export interface Authenticator {
  authenticate(request: FastifyRequest): Promise<Principal | undefined>;
}

export const noAuthentication: Authenticator = {
  authenticate: () => Promise.resolve(undefined),
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}
