import { randomUUID } from 'node:crypto';
import { AppError, asTenantId, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { KeyProvider, KeyProviderDescription } from './key-provider.js';
import type { Keyring } from './keyring.js';
import type { KeyEventSink } from './reencrypt.js';
import type { EncryptedTable } from './row-cipher.js';

/**
 * Key administration: status, and the operations that need two security administrators
 * (dual control): KEK rotation, destruction of a KEK version, and crypto-shredding a tenant.
 * One administrator requests, a different one approves before the request expires; approval
 * executes the operation. Every request, decision and execution is an audit event.
 */
export type KeyOperation = 'rotate_kek' | 'destroy_kek_version' | 'shred_tenant';

export interface KeyRequest {
  readonly id: string;
  readonly operation: KeyOperation;
  readonly params: Record<string, string | number>;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly expiresAt: Date;
  readonly status: 'pending' | 'executed' | 'failed' | 'rejected' | 'expired';
  readonly decidedBy: string | null;
  readonly outcome: string | null;
}

export interface TenantKeyStatus {
  readonly tenantId: string;
  readonly keys: {
    purpose: string;
    version: number;
    status: string;
    kekVersion: number | null;
    ageDays: number;
    rows: number;
  }[];
  readonly warnings: string[];
}

export interface KeyStatus {
  readonly provider: KeyProviderDescription;
  readonly kekVersion: number;
  readonly maxKeyAgeDays: number;
  readonly tenants: TenantKeyStatus[];
  readonly warnings: string[];
}

interface RequestRow {
  id: string;
  operation: KeyOperation;
  params: Record<string, string | number>;
  requested_by: string;
  requested_at: Date;
  expires_at: Date;
  status: 'pending' | 'executed' | 'failed' | 'rejected';
  decided_by: string | null;
  outcome: string | null;
}

const DAY_MS = 86_400_000;
const ACTOR_RE = /^[A-Za-z0-9_.@:-]{1,128}$/;

export interface KeyAdminOptions {
  readonly requestTtlMs: number;
  readonly maxKeyAgeDays: number;
}

export class KeyAdmin {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly provider: KeyProvider,
    private readonly tables: readonly EncryptedTable[],
    private readonly clock: Clock,
    private readonly events: KeyEventSink,
    private readonly options: KeyAdminOptions,
  ) {}

  async status(): Promise<KeyStatus> {
    const kekVersion = await this.provider.currentKekVersion();
    const tenantIds = await this.db.withoutTenant(async (tx) =>
      (await tx.query<{ id: string }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) => r.id),
    );
    const now = this.clock.now().getTime();
    const tenants: TenantKeyStatus[] = [];
    for (const id of tenantIds) {
      tenants.push(
        await this.db.withTenant(asTenantId(id), async (tx) => {
          const { rows } = await tx.query<{
            purpose: string;
            version: number;
            status: string;
            kek_version: number | null;
            created_at: Date;
          }>(
            'SELECT purpose, version, status, kek_version, created_at FROM tenant_keys ORDER BY purpose, version',
          );
          const counts = new Map<number, number>();
          for (const t of this.tables) {
            const c = await tx.query<{ v: number; n: number }>(
              `SELECT dek_version AS v, count(*)::int AS n FROM ${t.table} GROUP BY dek_version`,
            );
            for (const r of c.rows) counts.set(r.v, (counts.get(r.v) ?? 0) + r.n);
          }
          const keys = rows.map((r) => ({
            purpose: r.purpose,
            version: r.version,
            status: r.status,
            kekVersion: r.kek_version,
            ageDays: Math.floor((now - r.created_at.getTime()) / DAY_MS),
            rows: r.purpose === 'field' ? (counts.get(r.version) ?? 0) : 0,
          }));
          const warnings = keys
            .filter(
              (k) =>
                k.purpose === 'field' &&
                k.status === 'active' &&
                k.ageDays > this.options.maxKeyAgeDays,
            )
            .map(
              (k) =>
                `data key v${String(k.version)} is ${String(k.ageDays)} days old (policy: ${String(this.options.maxKeyAgeDays)}); run scrip keys rotate-dek`,
            );
          if (keys.some((k) => k.kekVersion !== null && k.kekVersion !== kekVersion))
            warnings.push('data keys wrapped by an old KEK version remain');
          return { tenantId: id, keys, warnings };
        }),
      );
    }
    const warnings = tenants.flatMap((t) => t.warnings.map((w) => `tenant ${t.tenantId}: ${w}`));
    return {
      provider: this.provider.describe(),
      kekVersion,
      maxKeyAgeDays: this.options.maxKeyAgeDays,
      tenants,
      warnings,
    };
  }

  async request(
    operation: KeyOperation,
    params: Record<string, string | number>,
    requestedBy: string,
  ): Promise<KeyRequest> {
    assertActor(requestedBy);
    if (operation === 'shred_tenant' && !isUuid(String(params.tenantId)))
      throw new AppError('validation_failed', 'a tenant id is required', { detail: 'tenantId' });
    if (operation === 'destroy_kek_version' && !Number.isInteger(params.version))
      throw new AppError('validation_failed', 'a KEK version is required', { detail: 'version' });
    const now = this.clock.now();
    return this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<RequestRow>(
        `INSERT INTO key_requests (id, operation, params, requested_by, requested_at, expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING *`,
        [
          randomUUID(),
          operation,
          JSON.stringify(params),
          requestedBy,
          now,
          new Date(now.getTime() + this.options.requestTtlMs),
        ],
      );
      const row = one(rows);
      await this.events(tx, {
        action: `key.request.${operation}`,
        tenantId: null,
        actor: requestedBy,
        details: { requestId: row.id, requestedBy },
      });
      return toRequest(row, now);
    });
  }

  async list(): Promise<KeyRequest[]> {
    const now = this.clock.now();
    return this.db.withoutTenant(async (tx) =>
      (
        await tx.query<RequestRow>(
          'SELECT * FROM key_requests ORDER BY requested_at DESC LIMIT 200',
        )
      ).rows.map((r) => toRequest(r, now)),
    );
  }

  async reject(id: string, approver: string): Promise<KeyRequest> {
    return this.#decide(id, approver, async (tx, row) => {
      await tx.query(
        `UPDATE key_requests SET status = 'rejected', decided_by = $2, decided_at = $3 WHERE id = $1`,
        [row.id, approver, this.clock.now()],
      );
      await this.events(tx, {
        action: `key.reject.${row.operation}`,
        tenantId: null,
        actor: approver,
        details: { requestId: row.id, decidedBy: approver },
      });
      return 'rejected';
    });
  }

  /** The second administrator approves; the operation runs now. */
  async approve(id: string, approver: string): Promise<KeyRequest> {
    return this.#decide(id, approver, async (tx, row) => {
      let outcome: string;
      try {
        outcome = await this.#execute(row);
      } catch (err) {
        await tx.query(
          `UPDATE key_requests SET status = 'failed', decided_by = $2, decided_at = $3, outcome = $4 WHERE id = $1`,
          [
            row.id,
            approver,
            this.clock.now(),
            err instanceof AppError ? err.message : 'internal error',
          ],
        );
        await this.events(tx, {
          action: `key.execute.${row.operation}`,
          tenantId: null,
          actor: approver,
          outcome: 'failure',
          details: { requestId: row.id, requestedBy: row.requested_by, decidedBy: approver },
        });
        return 'failed';
      }
      await tx.query(
        `UPDATE key_requests SET status = 'executed', decided_by = $2, decided_at = $3, outcome = $4 WHERE id = $1`,
        [row.id, approver, this.clock.now(), outcome],
      );
      await this.events(tx, {
        action: `key.execute.${row.operation}`,
        tenantId: null,
        actor: approver,
        details: { requestId: row.id, requestedBy: row.requested_by, decidedBy: approver, outcome },
      });
      return 'executed';
    });
  }

  async #decide(
    id: string,
    approver: string,
    act: (tx: Tx, row: RequestRow) => Promise<string>,
  ): Promise<KeyRequest> {
    assertActor(approver);
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new AppError('not_found', 'no such key request');
    return this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<RequestRow>(
        'SELECT * FROM key_requests WHERE id = $1 FOR UPDATE',
        [id],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('not_found', 'no such key request');
      const now = this.clock.now();
      if (row.status !== 'pending')
        throw new AppError('conflict', `the request is already ${row.status}`);
      if (row.expires_at.getTime() <= now.getTime())
        throw new AppError('gone', 'the request expired; file a new one');
      if (row.requested_by === approver) {
        // Recorded in a transaction of its own: the refusal below rolls this one back.
        await this.db.withoutTenant((t2) =>
          this.events(t2, {
            action: `key.approve.${row.operation}`,
            tenantId: null,
            actor: approver,
            outcome: 'denied',
            details: { requestId: row.id, reason: 'self_approval' },
          }),
        );
        throw new AppError(
          'forbidden',
          'dual control: the requester cannot approve their own request',
        );
      }
      await act(tx, row);
      return toRequest(
        one((await tx.query<RequestRow>('SELECT * FROM key_requests WHERE id = $1', [id])).rows),
        now,
      );
    });
  }

  async #execute(row: RequestRow): Promise<string> {
    switch (row.operation) {
      case 'rotate_kek': {
        const version = await this.provider.rotateKek();
        const count = await this.rewrapAll();
        return `KEK v${String(version)} current; ${String(count)} data keys re-wrapped`;
      }
      case 'destroy_kek_version': {
        const version = Number(row.params.version);
        const inUse = await this.#keysUnderKek(version);
        if (inUse > 0)
          throw new AppError(
            'conflict',
            `${String(inUse)} data keys are still wrapped by KEK v${String(version)}; rotate and re-wrap first`,
          );
        await this.provider.destroyKekVersion(version);
        return `KEK v${String(version)} destroyed`;
      }
      case 'shred_tenant':
        return this.shred(asTenantId(String(row.params.tenantId)));
    }
  }

  /** Re-wraps every tenant's live data keys under the current KEK (no data re-encryption). */
  async rewrapAll(): Promise<number> {
    const ids = await this.db.withoutTenant(async (tx) =>
      (await tx.query<{ id: string }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) => r.id),
    );
    let total = 0;
    for (const id of ids) {
      const tenantId = asTenantId(id);
      total += await this.db.withTenant(tenantId, async (tx) => {
        const n = await this.keyring.rewrapTenant(tx, tenantId);
        if (n > 0)
          await this.events(tx, { action: 'key.dek.rewrap', tenantId, details: { keys: n } });
        return n;
      });
    }
    return total;
  }

  /** Crypto-shredding: every data key of the tenant destroyed; its encrypted fields unreadable. */
  async shred(tenantId: TenantId): Promise<string> {
    return this.db.withTenant(tenantId, async (tx) => {
      const exists = await tx.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
      if (exists.rowCount !== 1) throw new AppError('not_found', 'no such tenant');
      await this.keyring.lockExclusive(tx, tenantId);
      const n = await this.keyring.destroyAll(tx, tenantId);
      await tx.query(`UPDATE tenants SET status = 'shredded' WHERE id = $1`, [tenantId]);
      await this.events(tx, { action: 'tenant.shred', tenantId, details: { keysDestroyed: n } });
      return `tenant shredded; ${String(n)} keys destroyed`;
    });
  }

  async #keysUnderKek(version: number): Promise<number> {
    const ids = await this.db.withoutTenant(async (tx) =>
      (await tx.query<{ id: string }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) => r.id),
    );
    let n = 0;
    for (const id of ids) {
      n += await this.db.withTenant(
        asTenantId(id),
        async (tx) =>
          (
            await tx.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM tenant_keys WHERE kek_version = $1',
              [version],
            )
          ).rows[0]?.n ?? 0,
      );
    }
    return n;
  }
}

function assertActor(actor: string): void {
  if (!ACTOR_RE.test(actor))
    throw new AppError('validation_failed', 'an administrator id is required', { detail: 'actor' });
}

function one<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', 'expected a row');
  return row;
}

function toRequest(r: RequestRow, now: Date): KeyRequest {
  const expired = r.status === 'pending' && r.expires_at.getTime() <= now.getTime();
  return {
    id: r.id,
    operation: r.operation,
    params: r.params,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    status: expired ? 'expired' : r.status,
    decidedBy: r.decided_by,
    outcome: r.outcome,
  };
}
