import pg from 'pg';
import type { Config } from '../config/index.js';
import { AppError } from '../core/index.js';
import {
  EmbeddedPostgres,
  EMBEDDED_DATABASE,
  EMBEDDED_OWNER,
  readRunningEmbedded,
  type Logger,
} from './embedded-postgres.js';
import { migrate } from './migrate.js';
import { assertAppRoleIsConfined, ensureRoles } from './roles.js';
import { Database } from './transaction.js';

/** Where the database is, as connection strings; domain code never learns which kind it is. */
export interface DatabaseTarget {
  readonly kind: 'embedded' | 'external';
  readonly ownerUrl: string;
  readonly appUrl: string;
  readonly appUser: string;
  readonly appPassword: string | undefined;
  readonly embedded: EmbeddedPostgres | undefined;
}

function withUser(url: string, user: string, password: string | undefined): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password === undefined ? '' : encodeURIComponent(password);
  return u.toString();
}

/** Starts the embedded server when DATABASE_URL is unset; otherwise uses the external one. */
export async function resolveDatabase(
  config: Config,
  dataDir: string,
  log: Logger,
): Promise<DatabaseTarget> {
  if (config.DATABASE_URL !== undefined) {
    const appUrl =
      config.DATABASE_APP_URL ??
      withUser(config.DATABASE_URL, config.SCRIP_DB_APP_USER, config.SCRIP_DB_APP_PASSWORD);
    const appUser = decodeURIComponent(new URL(appUrl).username);
    return {
      kind: 'external',
      ownerUrl: config.DATABASE_URL,
      appUrl,
      appUser,
      appPassword: config.DATABASE_APP_URL === undefined ? config.SCRIP_DB_APP_PASSWORD : undefined,
      embedded: undefined,
    };
  }
  const embedded = new EmbeddedPostgres(dataDir, log);
  const fresh = await embedded.start();
  log.info(
    { port: embedded.port, fresh },
    fresh ? 'embedded PostgreSQL initialised' : 'embedded PostgreSQL started',
  );
  const creds = embedded.credentials;
  return {
    kind: 'embedded',
    ownerUrl: embedded.url(EMBEDDED_OWNER, creds.ownerPassword),
    appUrl: embedded.url(config.SCRIP_DB_APP_USER, creds.appPassword),
    appUser: config.SCRIP_DB_APP_USER,
    appPassword: creds.appPassword,
    embedded,
  };
}

/**
 * The embedded database of a running `scrip serve` (which owns the data directory): its port is
 * in `<dataDir>/db-port`. Returns undefined when there is none to attach to.
 */
export function attachEmbedded(config: Config, dataDir: string): DatabaseTarget | undefined {
  const info = readRunningEmbedded(dataDir);
  if (info === undefined) return undefined;
  const url = (user: string, password: string): string =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${String(info.port)}/${EMBEDDED_DATABASE}`;
  return {
    kind: 'embedded',
    ownerUrl: url(EMBEDDED_OWNER, info.credentials.ownerPassword),
    appUrl: url(config.SCRIP_DB_APP_USER, info.credentials.appPassword),
    appUser: config.SCRIP_DB_APP_USER,
    appPassword: info.credentials.appPassword,
    embedded: undefined,
  };
}

/** Ensures roles and applies pending migrations as the owner. Returns the files applied. */
export async function migrateTarget(target: DatabaseTarget): Promise<string[]> {
  const owner = new pg.Client({
    connectionString: target.ownerUrl,
    application_name: 'scrip-migrate',
  });
  await owner.connect();
  try {
    await ensureRoles(owner, target.appUser, target.appPassword);
    return await migrate(owner);
  } finally {
    await owner.end();
  }
}

export interface PoolOptions {
  readonly max: number;
  readonly statementTimeoutMs: number;
  readonly applicationName?: string;
}

/** The application pool: connects as the confined app role and verifies that it is confined. */
export async function openAppDatabase(
  target: DatabaseTarget,
  options: PoolOptions,
): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: target.appUrl,
    max: options.max,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: options.applicationName ?? 'scrip',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (e.g. the server restarting) must not crash the process.
  pool.on('error', () => undefined);
  const client = await pool.connect().catch((err: unknown) => {
    throw new AppError('unavailable', 'cannot connect to the database as the application role', {
      cause: err,
    });
  });
  try {
    await assertAppRoleIsConfined(client);
  } finally {
    client.release();
  }
  return new Database(pool);
}
