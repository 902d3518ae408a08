import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type {
  Caller,
  Identity,
  IssuedSession,
  LoginInput,
  RequestMeta,
} from '../../identity/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import { clearSessionCookies, setSessionCookies } from '../session-auth.js';
import { AuthenticationResponse } from './webauthn.schemas.js';

/** Request metadata for audit records: address, user agent, request id (never credentials). */
export function requestMeta(request: FastifyRequest): RequestMeta {
  return { ip: request.ip, userAgent: request.headers['user-agent'], requestId: request.id };
}

export function caller(request: FastifyRequest): Caller {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return { userId: p.userId, tenantId: p.tenantId, sessionId: p.sessionId };
}

/** Answers carrying secrets (tokens, codes, TOTP seeds) must not be cached anywhere. */
export function noStore(reply: FastifyReply): void {
  void reply.header('Cache-Control', 'no-store');
}

/** The answer to a step-up, whatever the factor: which action it covers, and until when. */
export const StepUpAnswer = Type.Object({
  action: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
});

const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Token = Type.String({ minLength: 1, maxLength: 128 });
const Code = Type.String({ minLength: 1, maxLength: 64 });
const Ok = Type.Object({ ok: Type.Boolean() });
const TotpEnrolmentAnswer = Type.Object({
  secret: Type.String(),
  otpauthUri: Type.String(),
  qrSvg: Type.String(),
});

/** The step-up action a TOTP re-enrolment needs (a fresh second factor with the current one). */
export const TOTP_REENROL_ACTION = 'auth.totp.reenrol';

export const SessionAnswer = Type.Object({
  status: Type.Union([Type.Literal('signed_in'), Type.Literal('enrolment_required')]),
  userId: Type.String(),
  tenantId: Type.String(),
  csrfToken: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  idleExpiresAt: Type.String({ format: 'date-time' }),
  tenants: Type.Optional(Type.Array(Type.String())),
});

export function sessionAnswer(reply: FastifyReply, issued: IssuedSession): Record<string, unknown> {
  setSessionCookies(reply, issued);
  noStore(reply);
  const s = issued.session;
  return {
    status: s.restricted ? 'enrolment_required' : 'signed_in',
    userId: s.userId,
    tenantId: s.tenantId,
    csrfToken: issued.csrfToken ?? '',
    expiresAt: s.absoluteExpiresAt.toISOString(),
    idleExpiresAt: s.idleExpiresAt.toISOString(),
  };
}

/** Sign-in, sessions, MFA and step-up under /api/v1/auth (NIST SP 800-63B AAL2). */
export function authRoutes(identity: Identity): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/login',
      permission: 'public',
      summary: 'Sign in with password and TOTP (or a passkey, or a recovery code)',
      tags: ['auth'],
      schema: {
        body: Type.Object(
          {
            email: Email,
            password: Password,
            totp: Type.Optional(Code),
            recoveryCode: Type.Optional(Code),
            webauthn: Type.Optional(AuthenticationResponse),
            tenantId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionAnswer },
      },
      handler: async (request, reply) => {
        const r = await identity.login.login(request.body as LoginInput, requestMeta(request));
        return { ...sessionAnswer(reply, r), tenants: [...r.tenants] };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/auth/session',
      permission: 'session',
      summary: 'The current session and user',
      tags: ['auth'],
      schema: {
        response: {
          200: Type.Object({
            userId: Type.String(),
            tenantId: Type.String(),
            sessionId: Type.String(),
            email: Type.String(),
            displayName: Type.String(),
            roles: Type.Array(Type.String()),
            permissions: Type.Array(Type.String()),
            restricted: Type.Boolean(),
            mfaEnrolled: Type.Boolean(),
          }),
        },
      },
      handler: async (request) => {
        const p = request.principal;
        const info = await identity.account.info(caller(request));
        return {
          ...info,
          tenantId: p?.tenantId,
          sessionId: p?.sessionId,
          permissions: [...(p?.permissions ?? [])].sort(),
          restricted: p?.restricted === true,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/logout',
      permission: 'session',
      summary: 'End this session',
      tags: ['auth'],
      schema: { response: { 200: Ok } },
      handler: async (request, reply) => {
        await identity.account.logout(caller(request), requestMeta(request));
        clearSessionCookies(reply);
        return { ok: true };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/logout-all',
      permission: 'session',
      summary: 'Sign out everywhere (every session of this user, in every tenant)',
      tags: ['auth'],
      schema: { response: { 200: Type.Object({ ended: Type.Integer() }) } },
      handler: async (request, reply) => {
        const ended = await identity.account.logoutAll(caller(request), requestMeta(request));
        clearSessionCookies(reply);
        return { ended };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/totp/enrol',
      permission: 'session',
      summary: 'Start TOTP enrolment: the secret, otpauth URI and QR code (shown once)',
      tags: ['auth'],
      schema: { response: { 200: TotpEnrolmentAnswer } },
      handler: async (request, reply) => {
        noStore(reply);
        return identity.account.beginTotp(caller(request));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/totp/confirm',
      permission: 'session',
      summary: 'Confirm TOTP with a first code; returns recovery codes once and a new session',
      tags: ['auth'],
      schema: {
        body: Type.Object({ code: Code }, { additionalProperties: false }),
        response: {
          200: Type.Intersect([
            SessionAnswer,
            Type.Object({ recoveryCodes: Type.Array(Type.String()) }),
          ]),
        },
      },
      handler: async (request, reply) => {
        const r = await identity.account.confirmTotp(
          caller(request),
          (request.body as { code: string }).code,
          requestMeta(request),
        );
        return { ...sessionAnswer(reply, r.issued), recoveryCodes: r.recoveryCodes };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/totp/reenrol',
      permission: 'authenticated',
      stepUp: TOTP_REENROL_ACTION,
      summary:
        'Start re-enrolling TOTP: a new secret (shown once); the old one works until confirmed; needs a step-up',
      tags: ['auth'],
      schema: { response: { 200: TotpEnrolmentAnswer } },
      handler: async (request, reply) => {
        noStore(reply);
        return identity.account.beginTotpReenrol(caller(request));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/totp/reenrol/confirm',
      permission: 'authenticated',
      summary: 'Confirm the new TOTP with a first code; it replaces the old secret at once',
      tags: ['auth'],
      schema: {
        body: Type.Object({ code: Code }, { additionalProperties: false }),
        response: { 200: Ok },
      },
      handler: async (request) => {
        await identity.account.confirmTotpReenrol(
          caller(request),
          (request.body as { code: string }).code,
          requestMeta(request),
        );
        return { ok: true };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/recovery-codes',
      permission: 'authenticated',
      stepUp: 'auth.recovery_codes.regenerate',
      summary: 'Replace the recovery codes (shown once); needs a step-up',
      tags: ['auth'],
      schema: { response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }) } },
      handler: async (request, reply) => {
        noStore(reply);
        const recoveryCodes = await identity.account.regenerateRecoveryCodes(
          caller(request),
          requestMeta(request),
        );
        return { recoveryCodes };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/step-up',
      permission: 'authenticated',
      context: 'exempt',
      summary: 'A fresh TOTP for one named action (valid 5 minutes, single use)',
      tags: ['auth'],
      schema: {
        body: Type.Object(
          { action: Type.String({ minLength: 3, maxLength: 100 }), totp: Code },
          { additionalProperties: false },
        ),
        response: { 200: StepUpAnswer },
      },
      handler: async (request) => {
        const b = request.body as { action: string; totp: string };
        const expires = await identity.account.stepUp(
          caller(request),
          b.action,
          b.totp,
          requestMeta(request),
        );
        return { action: b.action, expiresAt: expires.toISOString() };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/tokens',
      permission: 'authenticated',
      summary: 'A short-lived bearer token (at most 15 minutes) bound to this session',
      tags: ['auth'],
      schema: {
        response: {
          200: Type.Object({
            token: Type.String(),
            tokenType: Type.Literal('Bearer'),
            expiresAt: Type.String({ format: 'date-time' }),
          }),
        },
      },
      handler: async (request, reply) => {
        noStore(reply);
        const r = await identity.account.issueBearer(caller(request), requestMeta(request));
        return {
          token: r.token,
          tokenType: 'Bearer' as const,
          expiresAt: r.session.absoluteExpiresAt.toISOString(),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/invitations/accept',
      permission: 'public',
      summary: 'Accept an invitation (single use); a new user gets an enrolment-only session',
      tags: ['auth'],
      schema: {
        body: Type.Object(
          {
            token: Token,
            email: Email,
            password: Password,
            displayName: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            status: Type.Union([
              Type.Literal('enrolment_required'),
              Type.Literal('membership_added'),
            ]),
            tenantId: Type.String(),
            userId: Type.Optional(Type.String()),
            csrfToken: Type.Optional(Type.String()),
            expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
            idleExpiresAt: Type.Optional(Type.String({ format: 'date-time' })),
          }),
        },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          token: string;
          email: string;
          password: string;
          displayName: string;
        };
        const r = await identity.onboarding.acceptInvitation(b.token, b, requestMeta(request));
        if (r.issued === undefined) return { status: 'membership_added', tenantId: r.tenantId };
        return sessionAnswer(reply, r.issued);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/bootstrap',
      permission: 'public',
      summary: 'First start: create the first tenant and its administrator (one-time link)',
      tags: ['auth'],
      schema: {
        body: Type.Object(
          {
            token: Token,
            tenantName: Type.String({ minLength: 1, maxLength: 200 }),
            email: Email,
            password: Password,
            displayName: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionAnswer },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          token: string;
          tenantName: string;
          email: string;
          password: string;
          displayName: string;
        };
        const issued = await identity.onboarding.completeBootstrap(
          b.token,
          b.tenantName,
          b,
          requestMeta(request),
        );
        return sessionAnswer(reply, issued);
      },
    }),
  ];
}
