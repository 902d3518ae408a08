import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import { hashToken, issueToken } from '../identity/tokens.js';
import {
  checkContextPolicy,
  evaluateContext,
  type ContextDecision,
  type ContextPolicy,
} from './context-policy.js';
import type { AccessCaller } from './role-catalog.service.js';

/** The step-up action that satisfies a `step_up` context rule. */
export const CONTEXT_STEP_UP = 'access.context';

/** What the gate sees of one authenticated request. */
export interface GateRequest {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly sessionId: string;
  readonly roles: readonly string[];
  readonly ip: string;
  readonly deviceToken: string | undefined;
  readonly requestId: string;
  readonly userAgent: string | undefined;
}

export interface ContextGateOptions {
  /** How long a context step-up satisfies `step_up` rules for the session. */
  readonly stepUpValidMs: number;
  /** Lifetime of a trusted-device registration. */
  readonly deviceTtlMs: number;
}

/**
 * Evaluates the tenant's context policy on every authenticated request (src/http/app.ts calls
 * {@link ContextGate.check} after authentication). Denials and step-up demands are audited with
 * their reason codes (the decision and why, never the address itself in the details; the source
 * address is in the record's source field as for every request).
 */
export class ContextGate {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly options: ContextGateOptions,
  ) {}

  async check(req: GateRequest): Promise<void> {
    const result = await this.db.withTenant(req.tenantId, async (tx): Promise<ContextDecision> => {
      const policy = await loadContextPolicy(tx);
      if (policy === undefined) return { decision: 'allow', reasons: [] };
      const now = this.clock.now();
      const trustedDevice =
        policy.policy.device === undefined ? false : await this.#trusted(tx, req, now);
      const decided = evaluateContext(policy.policy, {
        ip: req.ip,
        trustedDevice,
        roles: req.roles,
        now,
      });
      if (decided.decision !== 'step_up') return decided;
      const fresh = await tx.query(
        `SELECT 1 FROM step_ups
          WHERE session_id IN (SELECT $1::uuid UNION SELECT parent_id FROM sessions WHERE id = $1 AND parent_id IS NOT NULL)
            AND action = $2 AND verified_at > $3 LIMIT 1`,
        [req.sessionId, CONTEXT_STEP_UP, new Date(now.getTime() - this.options.stepUpValidMs)],
      );
      return fresh.rows.length > 0 ? { decision: 'allow', reasons: [] } : decided;
    });
    if (result.decision === 'allow') return;
    await this.db.withTenant(req.tenantId, (tx) =>
      appendAudit(
        tx,
        {
          tenantId: req.tenantId,
          actor: { kind: 'user', userId: req.userId, sessionId: req.sessionId },
          action: result.decision === 'deny' ? 'access.context.deny' : 'access.context.step_up',
          outcome: 'denied',
          requestId: req.requestId,
          source: {
            ip: req.ip,
            ...(req.userAgent === undefined ? {} : { userAgent: req.userAgent }),
          },
          details: { reasons: result.reasons.join(',') },
        },
        this.clock,
      ),
    );
    if (result.decision === 'deny') {
      throw new AppError('forbidden', 'access from this context is not allowed', {
        detail: `context:${result.reasons.join(',')}`,
      });
    }
    throw new AppError('step_up_required', 'step-up required for this context', {
      detail: CONTEXT_STEP_UP,
    });
  }

  async #trusted(tx: Tx, req: GateRequest, now: Date): Promise<boolean> {
    if (req.deviceToken === undefined || req.deviceToken === '') return false;
    const { rows } = await tx.query(
      `SELECT 1 FROM trusted_devices
        WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3`,
      [hashToken(req.deviceToken), req.userId, now],
    );
    return rows.length > 0;
  }

  async policy(
    tenantId: TenantId,
  ): Promise<{ version: number; policy: ContextPolicy } | undefined> {
    return this.db.withTenant(tenantId, (tx) => loadContextPolicy(tx));
  }

  /** Publishes a new policy version (the old ones stay as history); audited. */
  async setPolicy(caller: AccessCaller, input: unknown): Promise<number> {
    const policy = checkContextPolicy(input);
    return this.db.withTenant(caller.tenantId, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `scrip-context:${caller.tenantId}`,
      ]);
      const { rows } = await tx.query<{ v: number }>(
        `INSERT INTO context_policy_versions (tenant_id, version, policy, created_by, created_at)
         SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM context_policy_versions WHERE tenant_id = $1
         RETURNING version AS v`,
        [caller.tenantId, JSON.stringify(policy), caller.userId, this.clock.now()],
      );
      const version = rows[0]?.v ?? 0;
      await appendAudit(
        tx,
        {
          tenantId: caller.tenantId,
          actor: { kind: 'user', userId: caller.userId, sessionId: caller.sessionId },
          action: 'access.context.policy',
          outcome: 'success',
          ...(caller.requestId === undefined ? {} : { requestId: caller.requestId }),
          details: { version },
        },
        this.clock,
      );
      return version;
    });
  }

  /**
   * Registers the caller's current device as trusted (after a step-up, see the route) and
   * returns the cookie token; only its SHA-256 is stored.
   */
  async registerDevice(
    caller: AccessCaller,
    label: string,
  ): Promise<{ id: string; token: string; expiresAt: Date; maxAgeSeconds: number }> {
    const { token, hash } = issueToken();
    const id = randomUUID();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.options.deviceTtlMs);
    await this.db.withTenant(caller.tenantId, async (tx) => {
      await tx.query(
        `INSERT INTO trusted_devices (id, tenant_id, user_id, token_hash, label, registered_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, caller.tenantId, caller.userId, hash, label, now, expiresAt],
      );
      await appendAudit(
        tx,
        {
          tenantId: caller.tenantId,
          actor: { kind: 'user', userId: caller.userId, sessionId: caller.sessionId },
          action: 'access.device.register',
          outcome: 'success',
          subjects: [{ type: 'device', id }],
          ...(caller.requestId === undefined ? {} : { requestId: caller.requestId }),
        },
        this.clock,
      );
    });
    return { id, token, expiresAt, maxAgeSeconds: Math.floor(this.options.deviceTtlMs / 1000) };
  }
}

/** The newest context policy of the tenant in `tx`, if any. */
export async function loadContextPolicy(
  tx: Tx,
): Promise<{ version: number; policy: ContextPolicy } | undefined> {
  const { rows } = await tx.query<{ version: number; policy: unknown }>(
    `SELECT version, policy FROM context_policy_versions
      WHERE tenant_id = scrip_current_tenant() ORDER BY version DESC LIMIT 1`,
  );
  const row = rows[0];
  return row === undefined
    ? undefined
    : { version: row.version, policy: checkContextPolicy(row.policy) };
}
