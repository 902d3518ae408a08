import type pg from 'pg';
import type { TenantId } from '../core/index.js';

/** The narrow query surface domains get inside a transaction. */
export interface Tx {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/**
 * The application's database: every statement runs in a transaction; tenant-owned tables are
 * visible only inside `withTenant`, which sets `scrip.tenant_id` for that transaction alone
 * (set_config(..., is_local => true)), so a pooled connection never carries one tenant's context
 * into another request.
 */
export class Database {
  constructor(readonly pool: pg.Pool) {}

  async withTenant<T>(tenantId: TenantId, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#transaction(async (client) => {
      await client.query("SELECT set_config('scrip.tenant_id', $1, true)", [tenantId]);
      return fn(client);
    });
  }

  /** A transaction with no tenant: tenant-owned tables show no rows. */
  async withoutTenant<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#transaction(fn);
  }

  async #transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
