import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, asTenantId, type TenantId } from '../../core/index.js';
import type {
  IssuedSession,
  SsoConfigInput,
  SsoConfigService,
  SsoConfigView,
  SsoDomainService,
  SsoService,
} from '../../identity/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import { SourceLimiter } from '../source-limiter.js';
import { readCookie, setSessionCookies } from '../session-auth.js';
import { caller, requestMeta } from './auth.routes.js';

/**
 * Binds an SSO transaction to the browser that started it (login CSRF, OpenID Connect Core 1.0
 * §3.1.2.1 `state`). SameSite=Lax: the IdP's redirect back is a cross-site top-level GET.
 */
export const SSO_BROWSER_COOKIE = '__Host-scrip_sso_tx';
/** The pending second-factor step after an IdP sign-in without trusted MFA. */
export const SSO_PENDING_COOKIE = '__Host-scrip_sso_pending';

const Code = Type.String({ minLength: 1, maxLength: 64 });
const ClaimValues = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 16 });

const ConfigBody = Type.Object(
  {
    issuer: Type.String({ minLength: 8, maxLength: 500 }),
    clientId: Type.String({ minLength: 1, maxLength: 255 }),
    clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    redirectUri: Type.String({ minLength: 8, maxLength: 500 }),
    allowAutoCreate: Type.Boolean({ default: false }),
    defaultRole: Type.String({ minLength: 1, maxLength: 50, default: 'staff' }),
    trustIdpMfa: Type.Boolean({ default: false }),
    trustedAmr: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
      maxItems: 16,
      default: [],
    }),
    trustedAcr: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
      maxItems: 16,
      default: [],
    }),
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

/** The administrator's view: never the client secret, only whether one is set. */
const ConfigView = Type.Object({
  issuer: Type.String(),
  clientId: Type.String(),
  clientSecretSet: Type.Boolean(),
  redirectUri: Type.String(),
  allowAutoCreate: Type.Boolean(),
  defaultRole: Type.String(),
  trustIdpMfa: Type.Boolean(),
  trustedAmr: ClaimValues,
  trustedAcr: ClaimValues,
  enabled: Type.Boolean(),
  updatedAt: Type.String({ format: 'date-time' }),
  /** Email domains the platform operator mapped to this tenant (read-only here). */
  emailDomains: Type.Array(Type.String()),
});

/** The local second factor that finishes an SSO sign-in. */
export const CompleteBody = Type.Object(
  { totp: Type.Optional(Code), recoveryCode: Type.Optional(Code) },
  { additionalProperties: false },
);

/** Home-realm discovery: the same 200 shape whether the domain is unknown or SSO is off. */
export const DiscoverAnswer = Type.Object({
  sso: Type.Boolean(),
  tenantId: Type.Optional(Type.String({ format: 'uuid' })),
  organisation: Type.Optional(Type.String()),
  startUrl: Type.Optional(Type.String()),
});

export const CallbackAnswer = Type.Object({
  status: Type.Union([
    Type.Literal('signed_in'),
    Type.Literal('enrolment_required'),
    Type.Literal('mfa_required'),
    Type.Literal('linked'),
  ]),
  userId: Type.Optional(Type.String()),
  tenantId: Type.Optional(Type.String()),
  csrfToken: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  idleExpiresAt: Type.Optional(Type.String({ format: 'date-time' })),
});

function noStore(reply: FastifyReply): void {
  void reply.header('Cache-Control', 'no-store');
}

function sessionFields(reply: FastifyReply, issued: IssuedSession): Record<string, unknown> {
  setSessionCookies(reply, issued);
  const s = issued.session;
  return {
    userId: s.userId,
    tenantId: s.tenantId,
    csrfToken: issued.csrfToken ?? '',
    expiresAt: s.absoluteExpiresAt.toISOString(),
    idleExpiresAt: s.idleExpiresAt.toISOString(),
  };
}

/** Adds a cookie to whatever Set-Cookie lines the reply already carries. */
function addCookie(reply: FastifyReply, line: string): void {
  const prior = reply.getHeader('set-cookie');
  const list = Array.isArray(prior) ? prior : typeof prior === 'string' ? [prior] : [];
  void reply.header('Set-Cookie', [...list.map(String), line]);
}

function browserCookie(reply: FastifyReply, token: string): void {
  addCookie(
    reply,
    `${SSO_BROWSER_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600`,
  );
}

function rawQuery(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i < 0 ? '' : request.url.slice(i + 1);
}

function viewJson(v: SsoConfigView, emailDomains: readonly string[]): Record<string, unknown> {
  return { ...v, updatedAt: v.updatedAt.toISOString(), emailDomains };
}

/** Sign-in with the tenant's OpenID Connect IdP, account linking, and its configuration. */
export function ssoRoutes(
  sso: SsoService,
  configs: SsoConfigService,
  domains: SsoDomainService,
): RouteDef[] {
  // Discovery is public: one address may ask 60 times a minute (a sign-in page asks a few times).
  const discoverLimit = new SourceLimiter(60, 60_000);
  const domainsOf = async (tenantId: TenantId): Promise<string[]> =>
    (await domains.list(tenantId)).map((d) => d.domain);
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/discover',
      permission: 'public',
      summary: "Which organisation's single sign-on serves an email domain (home-realm discovery)",
      tags: ['auth', 'sso'],
      schema: {
        // The domain part only: the sign-in page never sends the full address.
        body: Type.Object(
          { domain: Type.String({ minLength: 1, maxLength: 253 }) },
          { additionalProperties: false },
        ),
        response: { 200: DiscoverAnswer },
      },
      handler: async (request, reply) => {
        noStore(reply);
        if (!discoverLimit.take(request.ip)) {
          void reply.header('Retry-After', String(discoverLimit.retryAfterSeconds(request.ip)));
          throw new AppError('rate_limited', 'too many lookups; try again shortly');
        }
        return domains.discover((request.body as { domain: string }).domain);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/:tenantId/start',
      permission: 'public',
      summary: "Start a sign-in at the tenant's OpenID Connect provider (302 to the IdP)",
      tags: ['auth', 'sso'],
      schema: {
        params: Type.Object({ tenantId: Type.String({ format: 'uuid' }) }),
        response: { 302: Type.Null() },
      },
      handler: async (request, reply) => {
        const { tenantId } = request.params as { tenantId: string };
        const start = await sso.start(asTenantId(tenantId));
        noStore(reply);
        browserCookie(reply, start.browserToken);
        return reply.code(302).header('Location', start.url).send();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/auth/sso/callback',
      permission: 'public',
      summary: "The IdP's redirect back: a session, a pending second factor, or a new link",
      tags: ['auth', 'sso'],
      schema: {
        querystring: Type.Object({
          state: Type.String({ minLength: 1, maxLength: 128 }),
          code: Type.Optional(Type.String({ maxLength: 2048 })),
          iss: Type.Optional(Type.String({ maxLength: 500 })),
          error: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: CallbackAnswer },
      },
      handler: async (request, reply) => {
        noStore(reply);
        const r = await sso.callback(
          rawQuery(request),
          readCookie(request, SSO_BROWSER_COOKIE),
          requestMeta(request),
        );
        // The binding cookie has done its work either way.
        const clear = `${SSO_BROWSER_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;
        switch (r.status) {
          case 'signed_in':
          case 'enrolment_required': {
            const fields = sessionFields(reply, r.issued);
            addCookie(reply, clear);
            return { status: r.status, ...fields };
          }
          case 'mfa_required':
            addCookie(reply, clear);
            addCookie(
              reply,
              `${SSO_PENDING_COOKIE}=${r.pendingToken}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=300`,
            );
            return { status: r.status };
          case 'linked':
            addCookie(reply, clear);
            return { status: r.status };
        }
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/complete',
      permission: 'public',
      summary: 'Finish an SSO sign-in with the local second factor (TOTP or a recovery code)',
      tags: ['auth', 'sso'],
      schema: {
        body: CompleteBody,
        response: { 200: CallbackAnswer },
      },
      handler: async (request, reply) => {
        const pending = readCookie(request, SSO_PENDING_COOKIE);
        if (pending === undefined || pending === '') {
          throw new AppError('unauthenticated', 'SSO sign-in failed');
        }
        const issued = await sso.complete(
          pending,
          request.body as { totp?: string; recoveryCode?: string },
          requestMeta(request),
        );
        noStore(reply);
        const fields = sessionFields(reply, issued);
        addCookie(
          reply,
          `${SSO_PENDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`,
        );
        return { status: 'signed_in', ...fields };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/auth/sso/link',
      permission: 'authenticated',
      stepUp: 'auth.sso.link',
      summary: "Link the signed-in user to an identity at the tenant's IdP (needs a step-up)",
      tags: ['auth', 'sso'],
      schema: { response: { 200: Type.Object({ authorizationUrl: Type.String() }) } },
      handler: async (request, reply) => {
        const c = caller(request);
        const start = await sso.start(c.tenantId, c);
        noStore(reply);
        browserCookie(reply, start.browserToken);
        return { authorizationUrl: start.url };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/sso/config',
      permission: 'sso.admin',
      summary: "The tenant's OpenID Connect provider configuration (never the client secret)",
      tags: ['sso'],
      schema: { response: { 200: ConfigView } },
      handler: async (request) => {
        const tenantId = caller(request).tenantId;
        const v = await configs.get(tenantId);
        if (v === undefined) throw new AppError('not_found', 'SSO is not configured');
        return viewJson(v, await domainsOf(tenantId));
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/sso/config',
      permission: 'sso.admin',
      stepUp: 'sso.config.change',
      summary: "Create or replace the tenant's OpenID Connect provider (needs a step-up)",
      tags: ['sso'],
      schema: { body: ConfigBody, response: { 200: ConfigView } },
      handler: async (request) => {
        const v = await configs.put(
          caller(request),
          request.body as SsoConfigInput,
          requestMeta(request),
        );
        return viewJson(v, await domainsOf(caller(request).tenantId));
      },
    }),
  ];
}
