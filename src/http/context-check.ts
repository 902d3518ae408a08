import type { ContextGate } from '../access/context-gate.js';
import type { ContextCheck } from './auth.js';
import { readCookie } from './session-auth.js';

/** The trusted-device cookie (host-only, HttpOnly, Secure; only its SHA-256 is stored). */
export const DEVICE_COOKIE = '__Host-scrip_device';

/** Adapts the access module's context gate to the HTTP pipeline (src/http/app.ts). */
export function contextCheck(gate: ContextGate): ContextCheck {
  return {
    check: (request, principal) =>
      gate.check({
        userId: principal.userId,
        tenantId: principal.tenantId,
        sessionId: principal.sessionId,
        roles: principal.roles,
        ip: request.ip,
        deviceToken: readCookie(request, DEVICE_COOKIE),
        requestId: request.id,
        userAgent: request.headers['user-agent'],
        deviceExempt: request.routeOptions.config.context === 'exempt_device',
      }),
  };
}
