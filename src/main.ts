#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import {
  describeConfig,
  loadConfig,
  createLogger,
  ensurePrivateDir,
  acquireInstanceLock,
  type Config,
} from './config/index.js';
import { isAppError } from './core/index.js';
import {
  Database,
  migrateTarget,
  openAppDatabase,
  resolveDatabase,
  packagePath,
} from './db/index.js';
import { ensureLocalTls } from './crypto/local-tls.js';
import { buildApp } from './http/app.js';
import { createHttpMetrics } from './http/metrics.js';
import { closeServer, listen, startMetricsServer } from './http/server.js';
import { printJson, printTable } from './cli/output.js';

const USAGE = `Usage: scrip <command> [options]

Commands:
  serve              run the HTTPS server (embedded PostgreSQL unless DATABASE_URL is set)
  migrate            apply pending database migrations and exit
  routes [--json]    list every HTTP route with the permission it requires
  config             print the effective configuration (secrets masked)
  help               this text

Configuration comes from environment variables (and SCRIP_CONFIG_FILE); see README.md.`;

function version(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string })
    .version;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.SCRIP_LOG_LEVEL);
  const dataDir = ensurePrivateDir(config.SCRIP_DATA_DIR);
  const lock = acquireInstanceLock(dataDir);
  const cleanup: (() => Promise<void>)[] = [
    async () => {
      lock.release();
    },
  ];
  const runCleanup = async (): Promise<void> => {
    for (const step of cleanup.reverse())
      await step().catch((err: unknown) => {
        logger.error({ err }, 'shutdown step failed');
      });
    cleanup.length = 0;
  };
  try {
    const target = await resolveDatabase(config, dataDir, logger);
    if (target.embedded !== undefined) {
      const embedded = target.embedded;
      cleanup.push(() => embedded.stop());
    }
    const applied = await migrateTarget(target);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const db = await openAppDatabase(target, {
      max: config.SCRIP_DB_POOL_MAX,
      statementTimeoutMs: config.SCRIP_DB_STATEMENT_TIMEOUT_MS,
    });
    cleanup.push(() => db.close());

    let tls: { key: string; cert: string } | undefined;
    if (config.SCRIP_INSECURE_HTTP) {
      logger.warn(
        'SCRIP_INSECURE_HTTP is set: serving plain HTTP for a TLS-terminating proxy; never expose this listener directly',
      );
    } else if (
      config.SCRIP_TLS_CERT_FILE !== undefined &&
      config.SCRIP_TLS_KEY_FILE !== undefined
    ) {
      tls = {
        cert: readFileSync(config.SCRIP_TLS_CERT_FILE, 'utf8'),
        key: readFileSync(config.SCRIP_TLS_KEY_FILE, 'utf8'),
      };
    } else {
      const local = await ensureLocalTls(dataDir);
      tls = { cert: local.certPem, key: local.keyPem };
      process.stdout.write(
        `Local CA certificate (trust it, or pass --cacert to curl): ${local.caPath}\n`,
      );
    }

    const metrics = createHttpMetrics();
    const app = await buildApp({
      config,
      logger,
      db,
      metrics,
      ...(tls === undefined ? {} : { tls }),
    });
    cleanup.push(() => app.close());
    const addresses = await listen(app, config.SCRIP_HOST, config.SCRIP_PORT);
    if (config.SCRIP_METRICS_PORT !== 0) {
      const metricsServer = await startMetricsServer(metrics, config.SCRIP_METRICS_PORT);
      cleanup.push(() => closeServer(metricsServer));
    }
    const scheme = tls === undefined ? 'http' : 'https';
    const first = app.addresses()[0];
    const port = typeof first === 'object' ? first.port : config.SCRIP_PORT;
    logger.info({ addresses, database: target.kind }, 'scrip listening');
    process.stdout.write(
      `Scrip is listening on ${scheme}://${config.SCRIP_HOST}:${String(port)}\n`,
    );
  } catch (err) {
    await runCleanup();
    throw err;
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    runCleanup()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch(() => process.exit(1));
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
}

async function migrateCommand(config: Config): Promise<void> {
  const logger = createLogger(config.SCRIP_LOG_LEVEL);
  const dataDir = ensurePrivateDir(config.SCRIP_DATA_DIR);
  const lock =
    config.DATABASE_URL === undefined ? acquireInstanceLock(dataDir, 'scrip process') : undefined;
  const target = await resolveDatabase(config, dataDir, logger);
  try {
    const applied = await migrateTarget(target);
    process.stdout.write(
      applied.length === 0 ? 'No pending migrations.\n' : `Applied: ${applied.join(', ')}\n`,
    );
  } finally {
    await target.embedded?.stop();
    lock?.release();
  }
}

async function routesCommand(config: Config, json: boolean): Promise<void> {
  // A pool that is never used: listing routes needs no database.
  const db = new Database(new pg.Pool({ max: 1 }));
  const app = await buildApp({ config, logger: createLogger('silent'), db });
  const rows = app.scripRoutes
    .map((r) => ({ ...r }))
    .sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  await app.close();
  await db.close();
  if (json) printJson(rows);
  else printTable(rows, ['method', 'url', 'permission']);
}

export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      json: { type: 'boolean' },
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? (values.version === true ? 'version' : 'help');
  if (command === 'help' || values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const config = loadConfig();
  switch (command) {
    case 'serve':
      await serve(config);
      return -1; // keep running
    case 'migrate':
      await migrateCommand(config);
      return 0;
    case 'routes':
      await routesCommand(config, values.json === true);
      return 0;
    case 'config':
      printJson(describeConfig(config));
      return 0;
    default:
      process.stderr.write(`scrip: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2))
  .then((code) => {
    if (code >= 0) process.exit(code);
  })
  .catch((err: unknown) => {
    if (isAppError(err)) {
      process.stderr.write(`scrip: ${err.message}\n`);
      process.exit(err.code === 'config_invalid' ? 78 : 1);
    }
    process.stderr.write(`scrip: ${err instanceof Error ? err.message : 'failed'}\n`);
    process.exit(1);
  });
