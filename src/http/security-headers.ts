import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * Headers on every response, errors included. The CSP allows nothing but this origin and no
 * inline script or style (the web app's pages included: src/http/web-static.ts); `data:` images
 * only (the TOTP QR code); framing is refused; responses are not cached (they may hold PHI)
 * unless the route says otherwise (the web app's hashed assets).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The policy with one inline style allowed by its SHA-256 (CSP3 hash source). */
export function policyAllowingStyle(css: string): string {
  const hash = createHash('sha256').update(css, 'utf8').digest('base64');
  return CONTENT_SECURITY_POLICY.replace("style-src 'self'", `style-src 'self' 'sha256-${hash}'`);
}

export function applySecurityHeaders(reply: FastifyReply, hsts: boolean): void {
  if (hsts) reply.header('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  // A route may narrow the policy for its own page (the printed copy allows one hashed style).
  if (!reply.hasHeader('Content-Security-Policy')) {
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  }
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Cross-Origin-Opener-Policy', 'same-origin');
  reply.header('Cross-Origin-Resource-Policy', 'same-origin');
  reply.header('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
}
