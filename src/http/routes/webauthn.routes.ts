import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type {
  AuthenticationResponseJSON,
  Identity,
  PasskeySummary,
  RegistrationResponseJSON,
} from '../../identity/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  caller,
  noStore,
  requestMeta,
  SessionAnswer,
  sessionAnswer,
  StepUpAnswer,
} from './auth.routes.js';
import {
  AuthenticationResponse,
  CreationOptions,
  Passkey,
  RegistrationResponse,
  RequestOptions,
} from './webauthn.schemas.js';

const Ok = Type.Object({ ok: Type.Boolean() });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Action = Type.String({ minLength: 3, maxLength: 100 });
const IdParam = Type.Object({ id: Type.String({ format: 'uuid' }) });

function view(p: PasskeySummary): Record<string, unknown> {
  return {
    ...p,
    transports: [...p.transports],
    createdAt: p.createdAt.toISOString(),
    lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
    revokedAt: p.revokedAt?.toISOString() ?? null,
  };
}

function restricted(request: FastifyRequest): boolean {
  return request.principal?.restricted === true;
}

/**
 * WebAuthn passkeys under /api/v1/auth/webauthn: registration (also from an enrolment-only
 * session, as the first second factor), passkey-alone sign-in, step-up, and the user's own
 * credentials; administrators revoke under /api/v1/users/:id/passkeys.
 */
export function webauthnRoutes(identity: Identity): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/register/options',
      permission: 'session',
      summary: 'Options for navigator.credentials.create() (challenge valid 5 minutes, once)',
      tags: ['auth', 'webauthn'],
      schema: { response: { 200: CreationOptions } },
      handler: async (request, reply) => {
        noStore(reply);
        return identity.webauthn.registrationOptions(caller(request));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/register',
      permission: 'session',
      summary:
        'Register a passkey (user verification required); as the first factor it returns recovery codes once and a full session',
      tags: ['auth', 'webauthn'],
      schema: {
        body: Type.Object(
          { response: RegistrationResponse, name: Type.Optional(Name) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            credential: Passkey,
            session: Type.Optional(SessionAnswer),
            recoveryCodes: Type.Optional(Type.Array(Type.String())),
          }),
        },
      },
      handler: async (request, reply) => {
        const b = request.body as { response: RegistrationResponseJSON; name?: string };
        const r = await identity.webauthn.register(
          caller(request),
          restricted(request),
          b.response,
          b.name,
          requestMeta(request),
        );
        if (r.issued === undefined) return { credential: view(r.credential) };
        return {
          credential: view(r.credential),
          session: sessionAnswer(reply, r.issued),
          recoveryCodes: r.recoveryCodes,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/login/options',
      permission: 'public',
      summary: 'Sign-in options for navigator.credentials.get() (discoverable credentials)',
      tags: ['auth', 'webauthn'],
      schema: {
        body: Type.Object(
          { secondFactor: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: RequestOptions },
      },
      handler: async (request, reply) => {
        noStore(reply);
        const b = request.body as { secondFactor?: boolean };
        return identity.webauthn.loginOptions(b.secondFactor === true);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/login',
      permission: 'public',
      summary: 'Sign in with a passkey alone (its assertion must carry user verification)',
      tags: ['auth', 'webauthn'],
      schema: {
        body: Type.Object(
          {
            response: AuthenticationResponse,
            tenantId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionAnswer },
      },
      handler: async (request, reply) => {
        const b = request.body as { response: AuthenticationResponseJSON; tenantId?: string };
        const r = await identity.webauthn.login(b.response, b.tenantId, requestMeta(request));
        return { ...sessionAnswer(reply, r.issued), tenants: [...r.tenants] };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/step-up/options',
      permission: 'authenticated',
      context: 'exempt',
      summary: 'Step-up options for one named action (the caller’s passkeys, UV required)',
      tags: ['auth', 'webauthn'],
      schema: {
        body: Type.Object({ action: Action }, { additionalProperties: false }),
        response: { 200: RequestOptions },
      },
      handler: async (request, reply) => {
        noStore(reply);
        const b = request.body as { action: string };
        return identity.webauthn.stepUpOptions(caller(request), b.action);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/webauthn/step-up',
      permission: 'authenticated',
      context: 'exempt',
      summary: 'A fresh passkey assertion for one named action (valid 5 minutes, single use)',
      tags: ['auth', 'webauthn'],
      schema: {
        body: Type.Object(
          { action: Action, response: AuthenticationResponse },
          { additionalProperties: false },
        ),
        response: { 200: StepUpAnswer },
      },
      handler: async (request) => {
        const b = request.body as { action: string; response: AuthenticationResponseJSON };
        const expires = await identity.webauthn.stepUp(
          caller(request),
          b.action,
          b.response,
          requestMeta(request),
        );
        return { action: b.action, expiresAt: expires.toISOString() };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/auth/webauthn/credentials',
      permission: 'authenticated',
      summary: 'My passkeys',
      tags: ['auth', 'webauthn'],
      schema: { response: { 200: Type.Object({ credentials: Type.Array(Passkey) }) } },
      handler: async (request) => ({
        credentials: (await identity.passkeys.list(caller(request))).map(view),
      }),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/auth/webauthn/credentials/:id',
      permission: 'authenticated',
      summary: 'Rename one of my passkeys',
      tags: ['auth', 'webauthn'],
      schema: {
        params: IdParam,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: Ok },
      },
      handler: async (request) => {
        await identity.passkeys.rename(
          caller(request),
          (request.params as { id: string }).id,
          (request.body as { name: string }).name,
          requestMeta(request),
        );
        return { ok: true };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/auth/webauthn/credentials/:id',
      permission: 'authenticated',
      summary: 'Revoke one of my passkeys (not the last second factor)',
      tags: ['auth', 'webauthn'],
      schema: { params: IdParam, response: { 200: Ok } },
      handler: async (request) => {
        await identity.passkeys.revoke(
          caller(request),
          (request.params as { id: string }).id,
          requestMeta(request),
        );
        return { ok: true };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/users/:id/passkeys',
      permission: 'user.admin',
      summary: "A user's passkeys, revoked ones included (the user's home tenant only)",
      tags: ['users', 'webauthn'],
      schema: {
        params: IdParam,
        response: { 200: Type.Object({ credentials: Type.Array(Passkey) }) },
      },
      handler: async (request) => ({
        credentials: (
          await identity.passkeys.adminList(caller(request), (request.params as { id: string }).id)
        ).map(view),
      }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/users/:id/passkeys/:credentialId',
      permission: 'user.admin',
      summary: "Revoke a user's passkey (the user's home tenant only)",
      tags: ['users', 'webauthn'],
      schema: {
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          credentialId: Type.String({ format: 'uuid' }),
        }),
        response: { 200: Ok },
      },
      handler: async (request) => {
        const p = request.params as { id: string; credentialId: string };
        await identity.passkeys.adminRevoke(
          caller(request),
          p.id,
          p.credentialId,
          requestMeta(request),
        );
        return { ok: true };
      },
    }),
  ];
}
