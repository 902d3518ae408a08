/**
 * The request an audit record is written for (45 CFR 164.312(b); issue 6 point 1: every record
 * names the actor's user, role and session, the source address, the user agent and the request
 * id). The HTTP layer opens one {@link AuditRequestContext} per request and fills it once the
 * session is known; {@link appendAudit} completes each event from it. It only fills what the
 * event leaves empty, never overrides: a domain that passes these fields itself keeps its values,
 * and role and session are added only to a record whose actor is the signed-in user (the role only
 * in the session's tenant). Outside a
 * request (CLI, scheduled jobs) there is no context and events are stored as given.
 *
 * Request-scoped state rather than a parameter through every domain call, so that no domain can
 * forget it; it carries identifiers only, never PHI.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isIP } from 'node:net';
import { AUDIT_LIMITS, type AuditEvent } from './audit-record.js';

/** What the HTTP layer knows about the current request (mutable: the session is known later). */
export interface AuditRequestContext {
  ip?: string;
  userAgent?: string;
  requestId?: string;
  /** The signed-in user, once authenticated. */
  userId?: string;
  sessionId?: string;
  /** The tenant of the session, and the roles the user holds in it. */
  tenantId?: string;
  roles?: readonly string[];
}

const storage = new AsyncLocalStorage<AuditRequestContext>();

/** Runs `fn` (and everything it awaits) with `context` as the current request. */
export function runWithAuditContext<T>(context: AuditRequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request's context, to be filled in as the request is authenticated. */
export function currentAuditContext(): AuditRequestContext | undefined {
  return storage.getStore();
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function usable(value: string | undefined, max: number): string | undefined {
  if (value === undefined || value === '' || value.length > max || CONTROL.test(value)) {
    return undefined;
  }
  return value;
}

/** `event` with its empty request fields taken from `context` (see the module comment). */
export function completeFromContext(
  event: AuditEvent,
  context: AuditRequestContext | undefined,
): AuditEvent {
  if (context === undefined) return event;
  const ip = event.source?.ip ?? (isIP(context.ip ?? '') === 0 ? undefined : context.ip);
  const userAgent =
    event.source?.userAgent ??
    usable(
      context.userAgent?.slice(0, AUDIT_LIMITS.userAgent).replace(/[^\x20-\x7e]/g, ''),
      AUDIT_LIMITS.userAgent,
    );
  const requestId = event.requestId ?? usable(context.requestId, AUDIT_LIMITS.identifier);
  const actor = event.actor;
  const sameUser =
    actor.kind === 'user' && context.userId !== undefined && actor.userId === context.userId;
  // Roles are per tenant: only a record of the session's own tenant gets them.
  const role =
    sameUser && event.tenantId === context.tenantId
      ? (actor.role ?? usable([...(context.roles ?? [])].sort().join(','), AUDIT_LIMITS.identifier))
      : actor.role;
  const sessionId = sameUser
    ? (actor.sessionId ?? usable(context.sessionId, AUDIT_LIMITS.identifier))
    : actor.sessionId;
  return {
    ...event,
    actor: {
      ...actor,
      ...(role === undefined ? {} : { role }),
      ...(sessionId === undefined ? {} : { sessionId }),
    },
    source: {
      ...event.source,
      ...(ip === undefined ? {} : { ip }),
      ...(userAgent === undefined ? {} : { userAgent }),
    },
    ...(requestId === undefined ? {} : { requestId }),
  };
}
