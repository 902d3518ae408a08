/**
 * Sessions (NIST SP 800-63B §7, OWASP Session Management): an opaque 256-bit token in a cookie
 * (or a short-lived bearer token derived from a cookie session), stored as SHA-256 only; an idle
 * timeout and an absolute lifetime (AAL2: at most 30 minutes idle, 12 hours overall); revocation
 * one by one, per user, or by an administrator; step-up records bound to one action.
 */
import { randomUUID } from 'node:crypto';
import { AppError, asTenantId, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { permissionsOf } from '../access/role-catalog.js';
import { loadRoleCatalog } from '../access/role-catalog.service.js';
import type { RequestMeta } from './auth-audit.js';
import { sessionDevice } from './own-sessions.repository.js';
import { hashToken, isTokenShaped, issueToken } from './tokens.js';

export interface SessionOptions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** Lifetime of a bearer token (at most 15 minutes). */
  readonly bearerMs: number;
  /** How long a step-up stays usable for its action. */
  readonly stepUpMs: number;
}

export const MAX_IDLE_MS = 30 * 60_000;
export const MAX_ABSOLUTE_MS = 12 * 3_600_000;
export const MAX_BEARER_MS = 15 * 60_000;

export type SessionKind = 'cookie' | 'bearer';

/** The second factor that completed a step-up: the user's TOTP row or a passkey row, by id. */
export interface StepUpCredential {
  readonly type: 'totp' | 'webauthn';
  readonly id: string;
}

export interface Session {
  readonly id: string;
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly kind: SessionKind;
  readonly restricted: boolean;
  readonly createdAt: Date;
  readonly idleExpiresAt: Date;
  readonly absoluteExpiresAt: Date;
}

/** A live session with what the authenticator needs. */
export interface ResolvedSession extends Session {
  readonly roles: readonly string[];
  readonly permissions: ReadonlySet<string>;
  /** SHA-256 of the CSRF token (cookie sessions). */
  readonly csrfHash: Buffer | null;
}

export interface IssuedSession {
  readonly session: Session;
  readonly token: string;
  /** Cookie sessions only: the double-submit CSRF token. */
  readonly csrfToken: string | undefined;
}

interface SessionRow {
  id: string;
  tenant_id: string;
  user_id: string;
  kind: SessionKind;
  parent_id: string | null;
  csrf_hash: Buffer | null;
  restricted: boolean;
  created_at: Date;
  idle_expires_at: Date;
  absolute_expires_at: Date;
  revoked_at: Date | null;
}

const SESSION_COLUMNS =
  'id, tenant_id, user_id, kind, parent_id, csrf_hash, restricted, created_at, idle_expires_at, absolute_expires_at, revoked_at';

function toSession(r: SessionRow): Session {
  return {
    id: r.id,
    tenantId: asTenantId(r.tenant_id),
    userId: r.user_id,
    kind: r.kind,
    restricted: r.restricted,
    createdAt: r.created_at,
    idleExpiresAt: r.idle_expires_at,
    absoluteExpiresAt: r.absolute_expires_at,
  };
}

export class SessionService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random,
    readonly options: SessionOptions,
  ) {
    if (options.idleMs > MAX_IDLE_MS || options.absoluteMs > MAX_ABSOLUTE_MS) {
      throw new TypeError('session lifetimes exceed the AAL2 maximum (30 min idle, 12 h)');
    }
    if (options.bearerMs > MAX_BEARER_MS) throw new TypeError('bearer tokens live at most 15 min');
  }

  /**
   * A new cookie session in `tx` (which runs in the session's tenant); `meta` names the device it
   * was opened from (user agent and address, for the user's list of sessions).
   */
  async create(
    tx: Tx,
    tenantId: TenantId,
    userId: string,
    restricted: boolean,
    meta?: RequestMeta,
  ): Promise<IssuedSession> {
    const now = this.clock.now();
    const absolute = new Date(now.getTime() + this.options.absoluteMs);
    const idle = new Date(Math.min(now.getTime() + this.options.idleMs, absolute.getTime()));
    const token = issueToken(this.random);
    const csrf = issueToken(this.random);
    const id = randomUUID();
    const device = sessionDevice(meta);
    await tx.query(
      `INSERT INTO sessions (id, tenant_id, user_id, kind, token_hash, csrf_hash, restricted, created_at,
                             last_seen_at, idle_expires_at, absolute_expires_at, user_agent, source_ip)
       VALUES ($1, $2, $3, 'cookie', $4, $5, $6, $7, $7, $8, $9, $10, $11)`,
      [
        id,
        tenantId,
        userId,
        token.hash,
        csrf.hash,
        restricted,
        now,
        idle,
        absolute,
        device.userAgent,
        device.ip,
      ],
    );
    const session: Session = {
      id,
      tenantId,
      userId,
      kind: 'cookie',
      restricted,
      createdAt: now,
      idleExpiresAt: idle,
      absoluteExpiresAt: absolute,
    };
    return { session, token: token.token, csrfToken: csrf.token };
  }

  /** A bearer token bound to a cookie session: it ends with it and lives at most 15 minutes. */
  async issueBearer(tx: Tx, parent: Session): Promise<IssuedSession> {
    const now = this.clock.now();
    const absolute = new Date(
      Math.min(now.getTime() + this.options.bearerMs, parent.absoluteExpiresAt.getTime()),
    );
    const token = issueToken(this.random);
    const id = randomUUID();
    await tx.query(
      `INSERT INTO sessions (id, tenant_id, user_id, kind, parent_id, token_hash, restricted, created_at,
                             last_seen_at, idle_expires_at, absolute_expires_at)
       VALUES ($1, $2, $3, 'bearer', $4, $5, false, $6, $6, $7, $7)`,
      [id, parent.tenantId, parent.userId, parent.id, token.hash, now, absolute],
    );
    const session: Session = {
      id,
      tenantId: parent.tenantId,
      userId: parent.userId,
      kind: 'bearer',
      restricted: false,
      createdAt: now,
      idleExpiresAt: absolute,
      absoluteExpiresAt: absolute,
    };
    return { session, token: token.token, csrfToken: undefined };
  }

  /**
   * The live session a token names, or undefined (unknown, wrong kind, revoked, idle or past its
   * lifetime, user disabled, membership gone). Each use moves the idle deadline (and the parent's,
   * for a bearer token), never past the absolute one.
   */
  async resolve(token: string, kind: SessionKind): Promise<ResolvedSession | undefined> {
    if (!isTokenShaped(token)) return undefined;
    const hash = hashToken(token);
    const tenant = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string | null }>(
        'SELECT scrip_session_tenant($1) AS t',
        [hash],
      );
      return rows[0]?.t ?? null;
    });
    if (tenant === null) return undefined;
    const tenantId = asTenantId(tenant);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 FOR UPDATE`,
        [hash],
      );
      const row = rows[0];
      if (row?.kind !== kind || !this.#live(row)) return undefined;
      const ids = [row.id];
      if (row.parent_id !== null) {
        const parent = await tx.query<SessionRow>(
          `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE`,
          [row.parent_id],
        );
        const p = parent.rows[0];
        if (p === undefined || !this.#live(p)) return undefined;
        ids.push(p.id);
      }
      const member = await tx.query<{ roles: string[] }>(
        `SELECT m.roles FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.user_id = $1 AND m.tenant_id = $2 AND u.status = 'active'`,
        [row.user_id, tenantId],
      );
      const roles = member.rows[0]?.roles;
      if (roles === undefined) return undefined;
      const { catalog } = await loadRoleCatalog(tx);
      const now = this.clock.now();
      const touched = await tx.query<{ id: string; idle_expires_at: Date }>(
        `UPDATE sessions SET last_seen_at = $2,
                idle_expires_at = CASE WHEN kind = 'bearer' THEN idle_expires_at
                                       ELSE least($2::timestamptz + make_interval(secs => $3), absolute_expires_at) END
          WHERE id = ANY($1) RETURNING id, idle_expires_at`,
        [ids, now, this.options.idleMs / 1000],
      );
      const idle = touched.rows.find((r) => r.id === row.id)?.idle_expires_at;
      return {
        ...toSession(row),
        idleExpiresAt: idle ?? row.idle_expires_at,
        roles,
        permissions: row.restricted ? new Set<string>() : permissionsOf(catalog, roles),
        csrfHash: row.csrf_hash,
      };
    });
  }

  #live(row: SessionRow): boolean {
    const now = this.clock.now().getTime();
    return (
      row.revoked_at === null &&
      now < row.idle_expires_at.getTime() &&
      now < row.absolute_expires_at.getTime()
    );
  }

  /** The caller's session if it is still live (not revoked), in the caller's tenant transaction. */
  async live(
    tx: Tx,
    caller: { readonly userId: string; readonly tenantId: TenantId; readonly sessionId: string },
  ): Promise<Session> {
    const { rows } = await tx.query<{
      kind: Session['kind'];
      restricted: boolean;
      created_at: Date;
      idle_expires_at: Date;
      absolute_expires_at: Date;
    }>(
      `SELECT kind, restricted, created_at, idle_expires_at, absolute_expires_at FROM sessions
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
      [caller.sessionId, caller.userId],
    );
    const s = rows[0];
    if (s === undefined) throw new AppError('unauthenticated', 'session ended');
    return {
      id: caller.sessionId,
      tenantId: caller.tenantId,
      userId: caller.userId,
      kind: s.kind,
      restricted: s.restricted,
      createdAt: s.created_at,
      idleExpiresAt: s.idle_expires_at,
      absoluteExpiresAt: s.absolute_expires_at,
    };
  }

  /** Ends a session and every bearer token it issued. */
  async revoke(tx: Tx, sessionId: string, reason: string): Promise<void> {
    await tx.query(
      `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
        WHERE (id = $1 OR parent_id = $1) AND revoked_at IS NULL`,
      [sessionId, this.clock.now(), reason],
    );
  }

  /** Ends every session of a user in the transaction's tenant; returns how many ended. */
  async revokeAllForUser(tx: Tx, userId: string, reason: string): Promise<number> {
    const { rowCount } = await tx.query(
      `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
        WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId, this.clock.now(), reason],
    );
    return rowCount ?? 0;
  }

  /**
   * Records a fresh second factor for `action` on this session, with the credential that
   * completed it (EPCS signing accepts only the one bound to the proofing, 21 CFR 1311.140(a)(5)).
   */
  async recordStepUp(
    tx: Tx,
    session: Session,
    action: string,
    credential: StepUpCredential,
  ): Promise<Date> {
    const now = this.clock.now();
    const expires = new Date(now.getTime() + this.options.stepUpMs);
    await tx.query(
      `INSERT INTO step_ups
         (id, tenant_id, session_id, action, verified_at, expires_at, credential_type, credential_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        randomUUID(),
        session.tenantId,
        session.id,
        action,
        now,
        expires,
        credential.type,
        credential.id,
      ],
    );
    return expires;
  }

  /**
   * Consumes one unexpired step-up for exactly this action on this session (a bearer token counts
   * as its parent session). Single use: a second protected request needs a second step-up.
   */
  async consumeStepUp(tenantId: TenantId, sessionId: string, action: string): Promise<boolean> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `UPDATE step_ups SET consumed_at = $3
          WHERE id = (SELECT s.id FROM step_ups s
                       WHERE s.session_id IN (SELECT $1::uuid UNION SELECT parent_id FROM sessions WHERE id = $1 AND parent_id IS NOT NULL)
                         AND s.action = $2 AND s.consumed_at IS NULL AND s.expires_at > $3
                       ORDER BY s.verified_at DESC LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id`,
        [sessionId, action, this.clock.now()],
      );
      return rows.length === 1;
    });
  }
}
