/**
 * The session authenticator: a `__Host-scrip_session` cookie or an `Authorization: Bearer`
 * token becomes a Principal.
 *
 * CSRF (OWASP CSRF Prevention Cheat Sheet): cookie-authenticated requests with an unsafe method
 * must carry `X-CSRF-Token` equal to the session's CSRF token (also given in the readable
 * `__Host-scrip_csrf` cookie and in the login answer). It is a synchronizer token bound to the
 * session (only its SHA-256 is stored) compared in constant time, so a forged cookie cannot pass
 * it. SameSite=Strict is the second layer. Bearer tokens are never sent by a browser on its own,
 * so they need no CSRF token. Public JSON endpoints (login) refuse form and text bodies (415),
 * which a cross-site form cannot get past.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import { tokenMatches, type IssuedSession, type SessionService } from '../identity/index.js';
import type { Authenticator, Principal } from './auth.js';

export const SESSION_COOKIE = '__Host-scrip_session';
export const CSRF_COOKIE = '__Host-scrip_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Parses one cookie from the Cookie header (RFC 6265 §5.4), without decoding surprises. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(h);
  return m?.[1] ?? '';
}

/** Sets the session and CSRF cookies (Secure, SameSite=Strict, Path=/, host-only). */
export function setSessionCookies(reply: FastifyReply, issued: IssuedSession): void {
  const maxAge = Math.max(
    0,
    Math.floor(
      (issued.session.absoluteExpiresAt.getTime() - issued.session.createdAt.getTime()) / 1000,
    ),
  );
  const attrs = `Path=/; Secure; SameSite=Strict; Max-Age=${maxAge}`;
  void reply.header('Set-Cookie', [
    `${SESSION_COOKIE}=${issued.token}; ${attrs}; HttpOnly`,
    `${CSRF_COOKIE}=${issued.csrfToken ?? ''}; ${attrs}`,
  ]);
}

export function clearSessionCookies(reply: FastifyReply): void {
  const attrs = 'Path=/; Secure; SameSite=Strict; Max-Age=0';
  void reply.header('Set-Cookie', [
    `${SESSION_COOKIE}=; ${attrs}; HttpOnly`,
    `${CSRF_COOKIE}=; ${attrs}`,
  ]);
}

export function sessionAuthenticator(sessions: SessionService): Authenticator {
  return {
    async authenticate(request): Promise<Principal | undefined> {
      const token = bearer(request);
      if (token !== undefined) {
        const s = await sessions.resolve(token, 'bearer');
        return s === undefined ? undefined : toPrincipal(s);
      }
      const cookie = readCookie(request, SESSION_COOKIE);
      if (cookie === undefined || cookie === '') return undefined;
      const s = await sessions.resolve(cookie, 'cookie');
      if (s === undefined) return undefined;
      if (!SAFE_METHODS.has(request.method)) {
        const header = request.headers[CSRF_HEADER];
        const ok =
          typeof header === 'string' && s.csrfHash !== null && tokenMatches(header, s.csrfHash);
        if (!ok) throw new AppError('forbidden', 'CSRF token missing or wrong', { detail: 'csrf' });
      }
      return toPrincipal(s);
    },
    async requireStepUp(principal, action): Promise<void> {
      const ok = await sessions.consumeStepUp(principal.tenantId, principal.sessionId, action);
      if (!ok) throw new AppError('step_up_required', 'step-up required', { detail: action });
    },
  };
}

function toPrincipal(s: {
  userId: string;
  tenantId: Principal['tenantId'];
  id: string;
  permissions: ReadonlySet<string>;
  roles: readonly string[];
  restricted: boolean;
}): Principal {
  return {
    userId: s.userId,
    tenantId: s.tenantId,
    sessionId: s.id,
    permissions: s.permissions,
    roles: s.roles,
    restricted: s.restricted,
  };
}
