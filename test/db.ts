import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { asTenantId, type TenantId } from '../src/core/index.js';
import { openAppDatabase, type Database, type DatabaseTarget } from '../src/db/index.js';

/** The run's database as the server sees it (see test/global-setup.ts). */
export function testTarget(): DatabaseTarget {
  const db = inject('db');
  return {
    kind: db.kind,
    ownerUrl: db.ownerUrl,
    appUrl: db.appUrl,
    appUser: db.appUser,
    appPassword: db.appPassword ?? undefined,
    embedded: undefined,
  };
}

export async function openTestDatabase(): Promise<Database> {
  return openAppDatabase(testTarget(), {
    max: 4,
    statementTimeoutMs: 10_000,
    applicationName: 'scrip-test',
  });
}

/** A client connected as the owner (migrations, raw inspection in tests). */
export async function ownerClient(url = testTarget().ownerUrl): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/** A brand-new empty database on the same server, owned by the owner role; dropped by `drop`. */
export async function scratchDatabase(): Promise<{
  ownerUrl: string;
  appUrl: string;
  drop: () => Promise<void>;
}> {
  const { adminUrl, ownerUrl } = inject('db');
  const name = `scrip_scratch_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const owner = decodeURIComponent(new URL(ownerUrl).username);
  await admin.query(
    `CREATE DATABASE ${admin.escapeIdentifier(name)} OWNER ${admin.escapeIdentifier(owner)}`,
  );
  await admin.end();
  const withDb = (u: string): string => {
    const url = new URL(u);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return {
    ownerUrl: withDb(ownerUrl),
    appUrl: withDb(inject('db').appUrl),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A fresh tenant per test instead of truncating tables, so tests run in parallel. */
export async function freshTenant(db: Database, name = 'Test clinic'): Promise<TenantId> {
  const id = asTenantId(randomUUID());
  await db.withTenant(id, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [id, name]),
  );
  return id;
}
