import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

/**
 * Permissions a route can declare. The catalog grows with the access-control issue; until then
 * `authenticated` means "any signed-in principal with a second factor" and `session` means "any
 * session, including an enrolment-only one" (enrolment, session info, sign-out). `public` must be
 * chosen explicitly.
 */
export type Permission =
  | 'authenticated'
  | 'session'
  | 'keys.admin'
  | 'user.admin'
  | 'sso.admin'
  | 'audit.read'
  | 'audit.export'
  | 'alerts.read'
  | 'alerts.manage';
export type RoutePermission = Permission | 'public';

export interface RouteSchema {
  readonly body?: TSchema;
  readonly querystring?: TSchema;
  readonly params?: TSchema;
  readonly headers?: TSchema;
  /** Every route declares its responses; undeclared fields are stripped on the way out. */
  readonly response: Readonly<Record<number, TSchema>>;
}

export interface RouteDef {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly permission: RoutePermission;
  /** A fresh second factor bound to this action name is required (see POST /api/v1/auth/step-up). */
  readonly stepUp?: string;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly schema: RouteSchema;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: RoutePermission;
    stepUp?: string;
  }
}

export function defineRoute(route: RouteDef): RouteDef {
  return route;
}
