import type { TSchema } from '@sinclair/typebox';
import type { CatalogPermission } from '../access/permissions.js';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

/**
 * Permissions a route can declare: one from the fixed catalog (src/access/permissions.ts), or
 * `authenticated` ("any signed-in principal with a second factor") or `session` ("any session,
 * including an enrolment-only one": enrolment, session info, sign-out). `public` must be chosen
 * explicitly.
 */
export type Permission = 'authenticated' | 'session' | CatalogPermission;
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
  /**
   * `exempt`: the context policy is not applied (the step-up answers that satisfy it).
   * `exempt_device`: only the device rule is not applied (registering and approving devices);
   * network and hours rules are.
   */
  readonly context?: 'exempt' | 'exempt_device';
  /**
   * Accepts an `application/x-www-form-urlencoded` body (FHIR `POST [type]/_search`); every
   * other route refuses form bodies with 415.
   */
  readonly formBody?: boolean;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly schema: RouteSchema;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: RoutePermission;
    stepUp?: string;
    context?: 'exempt' | 'exempt_device';
    formBody?: boolean;
  }
}

export function defineRoute(route: RouteDef): RouteDef {
  return route;
}
