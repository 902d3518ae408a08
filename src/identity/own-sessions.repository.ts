/**
 * A user's own cookie sessions as the account screen lists them (issue 10 item 2): the device
 * each was opened from, its times, never a token or hash. Queries run in the tenant's transaction
 * and filter by tenant and user as well (row-level security is the second guard, not the only).
 */
import { isIP } from 'node:net';
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { RequestMeta } from './auth-audit.js';

/** One of a user's live cookie sessions (never a token or hash). */
export interface SessionSummary {
  readonly id: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly idleExpiresAt: Date;
  readonly absoluteExpiresAt: Date;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** The longest user agent a session keeps (the column's CHECK in 0023_session_devices.sql). */
export const SESSION_USER_AGENT_MAX = 256;
/** The longest address kept: an IPv4-mapped IPv6 address is 45 characters. */
const SESSION_IP_MAX = 45;

/**
 * The device columns of a new cookie session: the user agent cut to 256 printable ASCII
 * characters, and the source address only when it is an IP address.
 */
export function sessionDevice(meta: RequestMeta | undefined): {
  userAgent: string | null;
  ip: string | null;
} {
  const ua = meta?.userAgent?.replace(/[^\x20-\x7e]/g, '').slice(0, SESSION_USER_AGENT_MAX);
  const ip = meta?.ip;
  return {
    userAgent: ua === undefined || ua === '' ? null : ua,
    ip: ip !== undefined && ip.length <= SESSION_IP_MAX && isIP(ip) !== 0 ? ip : null,
  };
}

/**
 * The user's live cookie sessions in `tenantId` (not revoked, both deadlines after `now`), newest
 * first. Bearer tokens are not listed: each belongs to its cookie session and ends with it.
 */
export async function listLive(
  tx: Tx,
  tenantId: TenantId,
  userId: string,
  now: Date,
): Promise<SessionSummary[]> {
  const { rows } = await tx.query<{
    id: string;
    created_at: Date;
    last_seen_at: Date;
    idle_expires_at: Date;
    absolute_expires_at: Date;
    user_agent: string | null;
    source_ip: string | null;
  }>(
    `SELECT id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, user_agent, source_ip
       FROM sessions
      WHERE tenant_id = $1 AND user_id = $2 AND kind = 'cookie' AND revoked_at IS NULL
        AND idle_expires_at > $3 AND absolute_expires_at > $3
      ORDER BY created_at DESC, id`,
    [tenantId, userId, now],
  );
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    idleExpiresAt: r.idle_expires_at,
    absoluteExpiresAt: r.absolute_expires_at,
    userAgent: r.user_agent,
    ip: r.source_ip,
  }));
}

/** The cookie session a session id stands for: itself, or a bearer token's parent. */
export async function cookieSessionOf(tx: Tx, sessionId: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ root: string }>(
    'SELECT coalesce(parent_id, id) AS root FROM sessions WHERE id = $1',
    [sessionId],
  );
  return rows[0]?.root;
}

/**
 * Locks `sessionId` if it is one of the user's live cookie sessions in `tenantId`; false for
 * anyone else's, an unknown, ended or bearer id alike (the caller answers all of them the same).
 */
export async function lockOwnLive(
  tx: Tx,
  tenantId: TenantId,
  userId: string,
  sessionId: string,
  now: Date,
): Promise<boolean> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM sessions
      WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND kind = 'cookie' AND revoked_at IS NULL
        AND idle_expires_at > $4 AND absolute_expires_at > $4
      FOR UPDATE`,
    [sessionId, tenantId, userId, now],
  );
  return rows.length === 1;
}
