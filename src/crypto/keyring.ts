import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { DataKey } from './field-cipher.js';
import { parseWrappedKey, type KeyProvider } from './key-provider.js';

/**
 * Per-tenant data keys (envelope encryption). Each tenant has its own AES-256 data keys for PHI
 * fields (purpose `field`, versioned, rotated) and a separate HMAC key for blind indexes
 * (purpose `index`). Keys are stored only wrapped by the KEK; unwrapped keys live in memory for
 * a bounded time (`cacheTtlMs`) and never reach the database, logs or errors.
 *
 * Usage: NIST SP 800-38D §8.3 bounds random-nonce GCM to 2^32 invocations per key. Every process
 * reserves encryptions in blocks (`usage_reserved` is incremented atomically in the database), so
 * the count holds across processes; from `rotateAt` on, the next write rolls to a new version.
 */
export type KeyPurpose = 'field' | 'index';

export interface KeyringOptions {
  readonly cacheTtlMs?: number;
  /** Encryptions reserved per database round trip. */
  readonly usageBlock?: number;
  /** Roll to a new data key once this many encryptions were reserved (default 2^30). */
  readonly rotateAt?: number;
}

interface CachedKey {
  readonly key: KeyObject;
  readonly expires: number;
}

interface Reservation {
  readonly version: number;
  remaining: number;
  readonly expires: number;
}

interface KeyRow {
  version: number;
  wrapped: Buffer | null;
  status: 'active' | 'retired' | 'destroyed';
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_BLOCK = 4096;
const DEFAULT_ROTATE_AT = 2 ** 30;
/** A process re-reads the active key at least this often, so rotations elsewhere take effect. */
const RESERVATION_TTL_MS = 30_000;

const keyLockName = (tenantId: TenantId): string => `scrip-dek:${tenantId}`;

export class Keyring {
  readonly #provider: KeyProvider;
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #block: number;
  readonly #rotateAt: number;
  readonly #cache = new Map<string, CachedKey>();
  readonly #reservations = new Map<string, Reservation>();

  constructor(provider: KeyProvider, clock: Clock, options: KeyringOptions = {}) {
    this.#provider = provider;
    this.#clock = clock;
    this.#ttl = options.cacheTtlMs ?? DEFAULT_TTL_MS;
    this.#block = options.usageBlock ?? DEFAULT_BLOCK;
    this.#rotateAt = options.rotateAt ?? DEFAULT_ROTATE_AT;
  }

  get provider(): KeyProvider {
    return this.#provider;
  }

  /**
   * The data key new writes use, reserving one encryption against its usage bound. The fast path
   * is memory only; the database re-checks every write (trigger `scrip_check_data_key`), so a
   * reservation made stale by another process's rotation can never write under a destroyed key.
   */
  async fieldKeyForWrite(tx: Tx, tenantId: TenantId): Promise<DataKey> {
    const slot = `${tenantId}:field`;
    const now = this.#clock.now().getTime();
    let r = this.#reservations.get(slot);
    if (r === undefined || r.remaining <= 0 || r.expires <= now) {
      const { rows } = await tx.query<{ version: number }>(
        `SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'field' AND status = 'active'`,
        [tenantId],
      );
      const version = rows[0]?.version ?? (await this.#createKey(tx, tenantId, 'field')).version;
      const reserved = await tx.query<{ usage_reserved: string }>(
        `UPDATE tenant_keys SET usage_reserved = usage_reserved + $3
          WHERE tenant_id = $1 AND purpose = 'field' AND version = $2 AND status = 'active'
          RETURNING usage_reserved`,
        [tenantId, version, this.#block],
      );
      const used = Number(reserved.rows[0]?.usage_reserved ?? Number.NaN);
      if (!(used <= this.#rotateAt)) {
        // This key has had its share of nonces: start a new version for new writes.
        await this.startNewFieldKey(tx, tenantId);
        return this.fieldKeyForWrite(tx, tenantId);
      }
      r = { version, remaining: this.#block, expires: now + RESERVATION_TTL_MS };
      this.#reservations.set(slot, r);
    }
    r.remaining -= 1;
    const key = await this.#unwrapCached(tx, tenantId, 'field', r.version);
    if (key === undefined) {
      this.#reservations.delete(slot);
      throw new AppError('unavailable', 'the data key changed; retry');
    }
    return { version: r.version, key };
  }

  /**
   * Waits for every open transaction writing under this tenant's keys, and keeps new ones out until
   * the caller's transaction ends: taken before destroying a key that must no longer be in use.
   */
  async lockExclusive(tx: Tx, tenantId: TenantId): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [keyLockName(tenantId)]);
  }

  /** Resolves any version for decryption: undefined when destroyed (crypto-shredded). */
  async fieldKey(tx: Tx, tenantId: TenantId, version: number): Promise<DataKey | undefined> {
    const key = await this.#unwrapCached(tx, tenantId, 'field', version);
    return key === undefined ? undefined : { version, key };
  }

  /** The tenant's blind-index HMAC key (created on first use, never rotated with data keys). */
  async indexKey(tx: Tx, tenantId: TenantId): Promise<KeyObject> {
    const cached = this.#cache.get(`${tenantId}:index:active`);
    if (cached !== undefined && cached.expires > this.#clock.now().getTime()) return cached.key;
    let row = await this.#activeRow(tx, tenantId, 'index');
    row ??= await this.#createKey(tx, tenantId, 'index');
    const key = await this.#unwrapCached(tx, tenantId, 'index', row.version);
    if (key !== undefined)
      this.#cache.set(`${tenantId}:index:active`, {
        key,
        expires: this.#clock.now().getTime() + this.#ttl,
      });
    if (key === undefined) throw new AppError('shredded', 'the blind-index key has been destroyed');
    return key;
  }

  /** Makes a new field data key version current; the old one is retired (still decrypts). */
  async startNewFieldKey(tx: Tx, tenantId: TenantId): Promise<number> {
    const now = this.#clock.now();
    await tx.query(
      `UPDATE tenant_keys SET status = 'retired', retired_at = $3
        WHERE tenant_id = $1 AND purpose = $2 AND status = 'active'`,
      [tenantId, 'field', now],
    );
    this.#reservations.delete(`${tenantId}:field`);
    return (await this.#createKey(tx, tenantId, 'field')).version;
  }

  /** Destroys one retired data key: its wrapped copy is erased; values under it become shredded. */
  async destroyKey(
    tx: Tx,
    tenantId: TenantId,
    purpose: KeyPurpose,
    version: number,
  ): Promise<void> {
    const res = await tx.query(
      `UPDATE tenant_keys SET status = 'destroyed', wrapped = NULL, kek_version = NULL, destroyed_at = $4
        WHERE tenant_id = $1 AND purpose = $2 AND version = $3 AND status <> 'destroyed'`,
      [tenantId, purpose, version, this.#clock.now()],
    );
    if (res.rowCount !== 1) throw new AppError('not_found', 'no such live key');
    this.forget(tenantId);
  }

  /** Destroys every key of a tenant (crypto-shredding). */
  async destroyAll(tx: Tx, tenantId: TenantId): Promise<number> {
    const res = await tx.query(
      `UPDATE tenant_keys SET status = 'destroyed', wrapped = NULL, kek_version = NULL, destroyed_at = $2
        WHERE tenant_id = $1 AND status <> 'destroyed'`,
      [tenantId, this.#clock.now()],
    );
    this.forget(tenantId);
    return res.rowCount ?? 0;
  }

  /** Re-wraps every live key of a tenant under the current KEK version. Returns the count. */
  async rewrapTenant(tx: Tx, tenantId: TenantId): Promise<number> {
    const current = await this.#provider.currentKekVersion();
    const { rows } = await tx.query<{ purpose: KeyPurpose; version: number; wrapped: Buffer }>(
      `SELECT purpose, version, wrapped FROM tenant_keys
        WHERE tenant_id = $1 AND wrapped IS NOT NULL AND kek_version <> $2 FOR UPDATE`,
      [tenantId, current],
    );
    for (const row of rows) {
      const rewrapped = await this.#provider.rewrap(parseWrappedKey(row.wrapped));
      await tx.query(
        `UPDATE tenant_keys SET wrapped = $4, kek_version = $5 WHERE tenant_id = $1 AND purpose = $2 AND version = $3`,
        [tenantId, row.purpose, row.version, rewrapped.wrapped, rewrapped.kekVersion],
      );
    }
    return rows.length;
  }

  /** Drops a tenant's unwrapped keys and reservations from memory. */
  forget(tenantId?: TenantId): void {
    for (const map of [this.#cache, this.#reservations] as Map<string, unknown>[]) {
      for (const k of map.keys())
        if (tenantId === undefined || k.startsWith(`${tenantId}:`)) map.delete(k);
    }
  }

  async #activeRow(tx: Tx, tenantId: TenantId, purpose: KeyPurpose): Promise<KeyRow | undefined> {
    const { rows } = await tx.query<KeyRow>(
      `SELECT version, wrapped, status FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2 AND status = 'active'`,
      [tenantId, purpose],
    );
    return rows[0];
  }

  async #createKey(tx: Tx, tenantId: TenantId, purpose: KeyPurpose): Promise<KeyRow> {
    const plain = randomBytes(32);
    try {
      const wrapped = await this.#provider.wrap(plain);
      // Serialise creators per tenant and purpose; a concurrent creator's key is then reused.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `scrip-key:${tenantId}:${purpose}`,
      ]);
      const existing = await this.#activeRow(tx, tenantId, purpose);
      if (existing !== undefined) return existing;
      const { rows } = await tx.query<{ version: number }>(
        `INSERT INTO tenant_keys (tenant_id, purpose, version, wrapped, kek_version, status, created_at)
         SELECT $1, $2, COALESCE(max(version), 0) + 1, $3, $4, 'active', $5 FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2
         RETURNING version`,
        [tenantId, purpose, wrapped.wrapped, wrapped.kekVersion, this.#clock.now()],
      );
      const version = rows[0]?.version;
      if (version === undefined) throw new AppError('internal', 'could not create a data key');
      return { version, wrapped: wrapped.wrapped, status: 'active' };
    } finally {
      plain.fill(0);
    }
  }

  async #unwrapCached(
    tx: Tx,
    tenantId: TenantId,
    purpose: KeyPurpose,
    version: number,
  ): Promise<KeyObject | undefined> {
    const id = `${tenantId}:${purpose}:${String(version)}`;
    const now = this.#clock.now().getTime();
    const hit = this.#cache.get(id);
    if (hit !== undefined && hit.expires > now) return hit.key;
    this.#cache.delete(id);
    const { rows } = await tx.query<KeyRow>(
      'SELECT version, wrapped, status FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2 AND version = $3',
      [tenantId, purpose, version],
    );
    const row = rows[0];
    // A version this tenant never had is not "shredded": it is ciphertext from elsewhere.
    if (row === undefined)
      throw new AppError('integrity_error', 'value refers to a data key this tenant does not have');
    if (row.wrapped === null) return undefined;
    // Held as a KeyObject (OpenSSL memory, not a JS buffer); the unwrapped bytes are wiped.
    const raw = await this.#provider.unwrap(parseWrappedKey(row.wrapped));
    const key = createSecretKey(raw);
    raw.fill(0);
    this.#cache.set(id, { key, expires: now + this.#ttl });
    return key;
  }
}
