import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from '../audit/index.js';
import {
  checkContextPolicy,
  evaluateContext,
  type ContextDecision,
  type ContextPolicy,
} from './context-policy.js';
import type { AccessCaller } from './role-catalog.service.js';
import { needsApproval, TrustedDevices, type RegisteredDevice } from './trusted-devices.js';

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
  /**
   * The device rule alone is not applied (registering or approving a device); network and hours
   * rules still are.
   */
  readonly deviceExempt?: boolean;
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
 * address is in the record's source field as for every request). Allowed requests are not
 * recorded here: the PHI access records each request writes carry its request id.
 */
export class ContextGate {
  /** Trusted-device registrations and their approval. */
  readonly devices: TrustedDevices;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly options: ContextGateOptions,
  ) {
    this.devices = new TrustedDevices(db, clock, options.deviceTtlMs);
  }

  async check(req: GateRequest): Promise<void> {
    const result = await this.db.withTenant(req.tenantId, async (tx): Promise<ContextDecision> => {
      const policy = await loadContextPolicy(tx);
      if (policy === undefined) return { decision: 'allow', reasons: [] };
      const now = this.clock.now();
      const trustedDevice =
        policy.policy.device === undefined ||
        req.deviceExempt === true ||
        (await this.devices.isTrusted(
          tx,
          req.userId,
          req.deviceToken,
          needsApproval(policy.policy),
        ));
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
   * Registers the caller's current device (after a step-up, see the route); pending when the
   * tenant's device rule denies (see {@link TrustedDevices}).
   */
  async registerDevice(caller: AccessCaller, label: string): Promise<RegisteredDevice> {
    return this.db.withTenant(caller.tenantId, async (tx) =>
      this.devices.register(tx, caller, label, (await loadContextPolicy(tx))?.policy),
    );
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
