#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import {
  describeConfig,
  loadConfig,
  createCliLogger,
  createLogger,
  type Config,
} from './config/index.js';
import { AppError, asTenantId, isAppError, systemClock } from './core/index.js';
import { Database, packagePath } from './db/index.js';
import { ensureLocalTls } from './crypto/local-tls.js';
import { unusedProvider } from './crypto/unused-provider.js';
import { buildApp } from './http/app.js';
import { loadWebAssets } from './http/web-static.js';
import { domainRoutes } from './http/domain-routes.js';
import { periodicJobs, startPeriodicJobs } from './jobs/periodic-jobs.js';
import { contextCheck } from './http/context-check.js';
import { BUILT_IN_CATALOG, ROLES } from './access/role-catalog.js';
import { demoCommand, registryCommand } from './cli/registry.command.js';
import { drugsCommand } from './cli/drugs.command.js';
import { pharmaciesCommand } from './cli/pharmacies.command.js';
import { networkCommand } from './cli/network.command.js';
import { startNetworkNode } from './network/network-serve.js';
import { ensureLocalNetwork } from './network/local-network.js';
import { networkTrustCommand, pharmacyCommand } from './cli/pharmacy-network.command.js';
import { sessionAuthenticator } from './http/session-auth.js';
import { usersCommand, invitationLink } from './cli/users.command.js';
import { accessCommand } from './cli/access.command.js';
import { createHttpMetrics } from './http/metrics.js';
import { closeServer, listen, startMetricsServer } from './http/server.js';
import { printJson, printTable } from './cli/output.js';
import { keysCommand, shredCommand } from './cli/keys.command.js';
import {
  checkpointSigner,
  compose,
  openPlatform,
  startMonitoring,
  type Platform,
} from './platform.js';
import { assertFipsIfRequired, cryptoModuleStatus } from './crypto/fips.js';
import {
  appendAudit,
  CheckpointScheduler,
  exportPendingSegments,
  measureClockSkew,
} from './audit/index.js';
import { DirectoryExportTarget } from './audit/directory-export-target.js';
import { findExpiringCredentials } from './identity/index.js';
import { auditCommand } from './cli/audit-dispatch.command.js';
import { backupCommand, restoreCommand } from './cli/backup.command.js';
import { evidenceCommand } from './cli/evidence.command.js';
import { recordBackupVerification, runComplianceJobs } from './compliance/index.js';
import { openKeyProvider } from './crypto/open-provider.js';
import { acquireInstanceLock, ensurePrivateDir } from './config/index.js';
import { resolveDatabase } from './db/index.js';
import { rxCommand } from './cli/rx.command.js';
import { participantsCommand, runSwitch, SWITCH_USAGE } from './cli/switch.command.js';
import { ssoCommand } from './cli/sso.command.js';
import { startLocalSwitch, switchOptionsFromConfig } from './switch/index.js';

const USAGE = `Usage: scrip <command> [options]

Commands:
  serve                          run the HTTPS server (embedded PostgreSQL unless DATABASE_URL is set)
  migrate                        apply pending database migrations and exit
  routes [--json]                list every HTTP route with the permission it requires
  config                         print the effective configuration (secrets masked)
  tenants create --name N [--kind clinic|pharmacy] [--admin-email E]
  users invite --tenant T --email E --role R   print a single-use invitation link
  access disable-stale --tenant T [--days N] [--dry-run]   disable accounts unused for N days (default 90)
  access escalate-reviews [--tenant T]   escalate overdue access reviews (alerts)
  tenants shred T --actor A      request crypto-shredding of tenant T (dual control)
  keys status [--json]           key versions, ages, rows per version, warnings
  keys rotate-dek --tenant T     new data key for T; re-encrypt rows (resumable)
  keys rotate-kek --actor A      request a KEK rotation (dual control)
  keys destroy-kek --version N --actor A
  keys requests | approve ID --actor B | reject ID --actor B
  keys rotate-signing            new platform signing key (JWKS keeps the old ones)
  audit verify [--json]          recompute the audit chain and tree, check every checkpoint
  audit proof --seq N [--out F]  inclusion proof for a record (or --size1 A --size2 B)
  audit verify-proof F --public-key PEM   check a proof offline, without a database
  audit checkpoint | public-key  sign a checkpoint now | print the signing public key (PEM)
  audit export [--dir D] [--witness W]   write sealed segments once (SCRIP_AUDIT_EXPORT_DIR)
  audit verify-export [--dir D]  verify the export offline | audit witness-check | audit prune-plan
  drugs import --tenant T --actor E DIR   propose an RxNorm release (RRF) as a catalog change
  drugs proposals|approve ID|reject ID|apply-due --tenant T [--actor E]   change control (catalog, formulary, routing)
  drugs interactions FILE        check an interaction table (docs/interactions.md)
  registry import FILE           verify (SCRIP_REGISTRY_PUBLIC_KEY_FILE) and load a signed NPI/DEA/licence registry
  pharmacies import --tenant T --actor E FILE   propose a pharmacy directory file (JSON lines) as a routing change
  network identity set --tenant T --id D:X|P:NCPDP --cert F --key F [--switch URL --pin P]...
  network identity show --tenant T    the tenant's network addresses, certificates, switch (docs/network.md)
  pharmacy add|list|member --tenant T   this tenant's own pharmacies (NCPDP IDs) and their staff
  network trust --tenant T --sender ID --jwks FILE   trust a prescriber system's signing keys
  switch                         run the network switch (SCRIP_SWITCH_*, docs/switch.md)
  switch participants add FILE | list [--json] | remove ID   the switch's participant registry
  sso domains add DOMAIN --tenant T | list --tenant T | remove DOMAIN --tenant T   email domains for SSO discovery (operator-verified)
  registry expiry [--days N]     report expired/expiring proofed DEA registrations and licences (audited alerts)
  demo seed --out FILE           demo tenants, users, patients, drug catalog, prescriptions; credentials to FILE (not in production)
  rx verify FILE --jwks FILE|URL verify a signed prescription (JWS) offline against the JWKS
  evidence export --tenant T --out DIR   signed evidence bundle (controls, inventory, BAAs, audit)
  evidence verify DIR [--jwks F] check an evidence bundle offline (digests, files, signature)
  evidence controls --tenant T   run every live control check | evidence daily (inventory, BAAs)
  evidence restore-drill FILE    decrypt and parse a backup end to end; recorded for the controls
  backup --out FILE              encrypted, consistent snapshot of the database
  restore FILE                   restore a backup into an empty database
  help                           this text

Configuration comes from environment variables (and SCRIP_CONFIG_FILE); see README.md.`;

function version(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string })
    .version;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.SCRIP_LOG_LEVEL);
  const platform = await openPlatform(config, { logger, lock: true, lockOwner: 'scrip serve' });
  const cleanup: (() => Promise<void>)[] = [() => platform.close()];
  const runCleanup = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch((err: unknown) => {
        logger.error({ err }, 'shutdown step failed');
      });
    }
  };
  try {
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
      const local = await ensureLocalTls(platform.dataDir);
      tls = { cert: local.certPem, key: local.keyPem };
      process.stdout.write(
        `Local CA certificate (trust it, or pass --cacert to curl): ${local.caPath}\n`,
      );
    }
    const fips = await cryptoModuleStatus();
    logger.info({ fipsOperational: fips.fipsOperational, openssl: fips.openssl }, fips.detail);
    const skew = await measureClockSkew(platform.db, platform.clock);
    logger.info(
      { skewMs: Math.round(skew.skewMs), roundTripMs: skew.roundTripMs },
      'database clock compared with server clock',
    );
    const exportTarget =
      config.SCRIP_AUDIT_EXPORT_DIR === undefined
        ? undefined
        : new DirectoryExportTarget(config.SCRIP_AUDIT_EXPORT_DIR);
    const witness =
      config.SCRIP_AUDIT_WITNESS_DIR === undefined
        ? undefined
        : new DirectoryExportTarget(config.SCRIP_AUDIT_WITNESS_DIR);
    const scheduler = new CheckpointScheduler({
      db: platform.db,
      signer: await checkpointSigner(platform.signingKeys, config.SCRIP_AUDIT_ORIGIN),
      origin: config.SCRIP_AUDIT_ORIGIN,
      everyRecords: config.SCRIP_AUDIT_CHECKPOINT_RECORDS,
      everySeconds: config.SCRIP_AUDIT_CHECKPOINT_SECONDS,
      clock: platform.clock,
      onError: (err) => {
        logger.error({ err }, 'audit checkpoint failed');
      },
      onCheckpoint: () => {
        if (exportTarget === undefined) return;
        // Sealed segments go to the write-once export (and checkpoints to the witness).
        exportPendingSegments(
          platform.db,
          exportTarget,
          witness === undefined ? {} : { witness },
        ).catch((err: unknown) => {
          logger.error({ err }, 'audit export failed');
        });
      },
    });
    scheduler.start();
    cleanup.push(() => scheduler.stop());
    // Alert rules over the audit stream, the alert outbox, and the daily EPCS review.
    const monitoring = startMonitoring(config, platform, logger);
    cleanup.push(() => monitoring.stop());
    // The one-machine network (SCRIP_LOCAL_NETWORK, docs/network.md): local certificates, the
    // listener and the local switch on loopback; netConfig is config for everything else.
    const localNet = await ensureLocalNetwork(config, platform.dataDir);
    const netConfig = localNet?.config ?? config;
    // The local switch (issue 8 item 7, docs/switch.md): SCRIP_LOCAL_SWITCH=on.
    if (netConfig.SCRIP_LOCAL_SWITCH === 'on') {
      const onError = (err: unknown): void => {
        logger.error({ err }, 'local switch error');
      };
      const local = await startLocalSwitch(platform, switchOptionsFromConfig(netConfig, onError));
      cleanup.push(() => local.close());
      logger.info({ url: local.url }, 'local switch listening');
    }
    // Expired or expiring DEA registrations and licences: audited (and so alerted) once each.
    const checkExpiry = (): void => {
      findExpiringCredentials(platform.db, platform.clock, { withinDays: 30 }).catch(
        (err: unknown) => {
          logger.error({ err }, 'proofing expiry check failed');
        },
      );
    };
    checkExpiry();
    const stopJobs = startPeriodicJobs(
      periodicJobs(platform, config.SCRIP_STALE_ACCOUNT_DAYS),
      logger,
    );
    cleanup.push(stopJobs);
    const expiryTimer = setInterval(checkExpiry, 3_600_000);
    expiryTimer.unref();
    cleanup.push(async () => {
      clearInterval(expiryTimer);
    });
    // The compliance program's periodic work: every tenant's platform inventory and BAA check,
    // and a daily audit-log verification. The first run waits ten minutes after start.
    const complianceJobs = (): void => {
      runComplianceJobs(
        {
          db: platform.db,
          clock: platform.clock,
          compliance: platform.compliance,
          auditKeys: async () =>
            (await platform.provider.listSigningKeys()).map((k) => k.publicKey),
          auditOrigin: config.SCRIP_AUDIT_ORIGIN,
        },
        (err, tenantId) => {
          logger.error({ err, tenantId }, 'compliance job failed');
        },
      ).catch((err: unknown) => {
        logger.error({ err }, 'compliance jobs failed');
      });
    };
    const complianceStart = setTimeout(() => {
      complianceJobs();
      const timer = setInterval(complianceJobs, 3_600_000);
      timer.unref();
      cleanup.push(async () => {
        clearInterval(timer);
      });
    }, 600_000);
    complianceStart.unref();
    cleanup.push(async () => {
      clearTimeout(complianceStart);
    });
    const metrics = createHttpMetrics();
    metrics.setClockSkew(skew.skewMs);
    // The web app (npm run build puts it in dist/web), served from this origin (docs/web.md).
    const web = loadWebAssets(packagePath('dist', 'web'));
    if (web === undefined) logger.warn('the web app is not built (dist/web): serving the API only');
    const app = await buildApp({
      config,
      logger,
      db: platform.db,
      metrics,
      authenticator: sessionAuthenticator(platform.identity.sessions),
      contextGate: contextCheck(platform.access.context),
      routes: domainRoutes(platform),
      ...(web === undefined ? {} : { web }),
      ...(tls === undefined ? {} : { tls }),
    });
    cleanup.push(() => app.close());
    const addresses = await listen(app, config.SCRIP_HOST, config.SCRIP_PORT);
    if (config.SCRIP_METRICS_PORT !== 0) {
      const metricsServer = await startMetricsServer(metrics, config.SCRIP_METRICS_PORT);
      cleanup.push(() => closeServer(metricsServer));
    }
    // The network node: the inbound SCRIPT listener and the outbox workers (docs/network.md).
    const network = await startNetworkNode({ ...platform, config: netConfig }, logger);
    cleanup.push(network.stop);
    if (localNet !== undefined) {
      process.stdout.write(
        `Local network: switch ${localNet.switchUrl}, listener ${localNet.nodeUrl} (scrip demo seed connects a clinic and a pharmacy)\n`,
      );
    }
    const first = app.addresses()[0];
    const port = typeof first === 'object' ? first.port : config.SCRIP_PORT;
    logger.info(
      { addresses, database: platform.target.kind, keyProvider: platform.provider.kind },
      'scrip listening',
    );
    process.stdout.write(
      `Scrip is listening on ${tls === undefined ? 'http' : 'https'}://${config.SCRIP_HOST}:${String(port)}\n`,
    );
    // Empty database: a one-time link for the first administrator, on the console only (the
    // token sits in the URL fragment, which browsers never send, so no access log sees it).
    const bootstrap = await platform.identity.onboarding.issueBootstrap();
    if (bootstrap !== undefined) {
      const origin = config.SCRIP_PUBLIC_ORIGIN ?? `https://localhost:${String(port)}`;
      process.stdout.write(
        `No users yet. Create the first administrator (one-time link, expires ${bootstrap.expiresAt.toISOString()}):\n  ${origin}/bootstrap#${bootstrap.token}\n`,
      );
    }
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

async function routesCommand(config: Config, json: boolean): Promise<void> {
  // Listing routes needs no database: a pool that is never used, services that are never called.
  const logger = createLogger('silent');
  const db = new Database(new pg.Pool({ max: 1 }));
  const unused = compose(config, logger, db, unusedProvider(), systemClock);
  const app = await buildApp({ config, logger, db, routes: domainRoutes(unused) });
  // The authorization matrix under the built-in role catalog: which roles reach each route.
  const rows = app.scripRoutes
    .map((r) => ({
      ...r,
      stepUp: r.stepUp ?? '',
      roles: allowedRoles(r.permission).join(' '),
    }))
    .sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  await app.close();
  await db.close();
  if (json) printJson(rows);
  else printTable(rows, ['method', 'url', 'permission', 'stepUp', 'roles']);
}

function allowedRoles(permission: string): string[] {
  if (permission === 'public') return ['anyone'];
  if (permission === 'session' || permission === 'authenticated') return ['signed-in'];
  return ROLES.filter((r) => (BUILT_IN_CATALOG[r] as readonly string[]).includes(permission));
}

async function withPlatform(config: Config, fn: (p: Platform) => Promise<number>): Promise<number> {
  const platform = await openPlatform(config, {
    logger: createCliLogger(config.SCRIP_LOG_LEVEL),
    lock: false,
    lockOwner: 'scrip process',
  });
  try {
    return await fn(platform);
  } finally {
    await platform.close();
  }
}

async function tenantsCommand(
  p: Platform,
  sub: string | undefined,
  values: Record<string, unknown>,
  rest: string[],
): Promise<number> {
  switch (sub ?? '') {
    case 'create': {
      const name = typeof values.name === 'string' ? values.name : '';
      const kind = values.kind === 'pharmacy' ? 'pharmacy' : 'clinic';
      if (name === '') throw new AppError('validation_failed', '--name is required');
      const id = asTenantId(randomUUID());
      await p.db.withTenant(id, (tx) =>
        tx.query('INSERT INTO tenants (id, name, kind) VALUES ($1, $2, $3)', [id, name, kind]),
      );
      process.stdout.write(`${id}\n`);
      const adminEmail = str(values['admin-email']);
      if (adminEmail !== undefined) {
        const link = await p.identity.onboarding.invite(id, adminEmail, ['tenant_admin'], {
          kind: 'cli',
        });
        process.stdout.write(`${invitationLink(p.config, link)}\n`);
      }
      return 0;
    }
    case 'shred':
      return shredCommand(p, rest[0] ?? str(values.tenant), str(values.actor));
    default:
      process.stderr.write(
        'usage: scrip tenants create --name N [--kind clinic|pharmacy] | tenants shred T --actor A\n',
      );
      return 2;
  }
}

/**
 * `scrip restore FILE`: into an empty database only (a fresh ./data, or an empty external one).
 * The KEK that wrapped the backup key must be available (same key directory or HSM token).
 */
async function restore(config: Config, file: string | undefined): Promise<number> {
  if (file === undefined) throw new AppError('validation_failed', 'usage: scrip restore FILE');
  const logger = createCliLogger(config.SCRIP_LOG_LEVEL);
  const dataDir = ensurePrivateDir(config.SCRIP_DATA_DIR);
  const lock = acquireInstanceLock(dataDir, 'scrip process');
  try {
    const target = await resolveDatabase(config, dataDir, logger);
    try {
      const provider = await openKeyProvider(config, dataDir);
      try {
        const r = await restoreCommand(target.ownerUrl, target.appUser, provider, file);
        // The data is back either way; a failure to record it only costs the control its evidence.
        await recordRestore(target.ownerUrl, r).catch((err: unknown) => {
          process.stderr.write(
            `warning: the restore could not be recorded for the backup control (${err instanceof Error ? err.message : 'error'})\n`,
          );
        });
        process.stdout.write(
          `Restored ${String(r.tables)} tables, ${String(r.rows)} rows from ${r.file}\n`,
        );
        return 0;
      } finally {
        await provider.close();
      }
    } finally {
      await target.embedded?.stop();
    }
  } finally {
    lock.release();
  }
}

/**
 * A restore that verified end to end is the evidence the backup control wants (45 CFR
 * 164.308(a)(7)(ii)(D)): recorded, with its audit record, in the restored database itself.
 */
async function recordRestore(
  ownerUrl: string,
  r: { plaintextSha256: string; tables: number; rows: number },
): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await recordBackupVerification(client, systemClock, {
      kind: 'restore',
      ok: true,
      tables: r.tables,
      rows: r.rows,
      detail: `plaintext sha256 ${r.plaintextSha256}`,
    });
    await appendAudit(
      client,
      {
        tenantId: null,
        actor: { kind: 'cli' },
        action: 'backup.restore',
        outcome: 'success',
        details: { plaintextSha256: r.plaintextSha256, tables: r.tables, rows: r.rows },
      },
      systemClock,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      json: { type: 'boolean' },
      version: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      actor: { type: 'string' },
      tenant: { type: 'string' },
      name: { type: 'string' },
      kind: { type: 'string' },
      batch: { type: 'string' },
      out: { type: 'string' },
      dir: { type: 'string' },
      witness: { type: 'string' },
      seq: { type: 'string' },
      'tree-size': { type: 'string' },
      size1: { type: 'string' },
      size2: { type: 'string' },
      'public-key': { type: 'string' },
      'admin-email': { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string', multiple: true },
      days: { type: 'string' },
      effective: { type: 'string' },
      'dry-run': { type: 'boolean' },
      jwks: { type: 'string' },
      id: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      switch: { type: 'string' },
      pin: { type: 'string', multiple: true },
      sender: { type: 'string' },
      ncpdp: { type: 'string' },
      npi: { type: 'string' },
      pharmacy: { type: 'string' },
      user: { type: 'string' },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (command === undefined || command === 'help' || values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  // Offline: needs neither configuration nor a database.
  if (command === 'rx') return rxCommand(sub, rest, values);
  const config = loadConfig();
  await assertFipsIfRequired(config.SCRIP_REQUIRE_FIPS);
  switch (command) {
    case 'serve':
      await serve(config);
      return -1; // keep running
    case 'migrate':
      return withPlatform(config, async () => {
        process.stdout.write('Migrations are current.\n');
        return 0;
      });
    case 'routes':
      await routesCommand(config, values.json === true);
      return 0;
    case 'config':
      printJson(describeConfig(config));
      return 0;
    case 'keys':
      return withPlatform(config, (p) =>
        keysCommand(p, {
          sub,
          rest,
          json: values.json === true,
          actor: str(values.actor),
          tenant: str(values.tenant),
          version: str(values.version),
          batch: str(values.batch),
        }),
      );
    case 'tenants':
      return withPlatform(config, (p) => tenantsCommand(p, sub, values, rest));
    case 'users':
      return withPlatform(config, (p) => usersCommand(p, sub, values));
    case 'access':
      return withPlatform(config, (p) => accessCommand(p, sub, values));
    case 'audit':
      if (sub === 'verify-proof') return auditCommand(undefined, sub, rest, values);
      return withPlatform(config, (p) => auditCommand(p, sub, rest, values));
    case 'backup': {
      const out = str(values.out);
      if (out === undefined)
        throw new AppError('validation_failed', 'usage: scrip backup --out FILE');
      return withPlatform(config, async (p) => {
        const r = await backupCommand(p.target.ownerUrl, p.provider, out);
        // An export of the whole database is an auditable event (45 CFR 164.312(b)).
        await p.db.withoutTenant((tx) =>
          appendAudit(
            tx,
            {
              tenantId: null,
              actor: { kind: 'cli' },
              action: 'backup.create',
              outcome: 'success',
              details: {
                sha256: r.fileSha256,
                tables: r.tables,
                rows: r.rows,
                kekVersion: r.kekVersion,
              },
            },
            p.clock,
          ),
        );
        process.stdout.write(
          `Backup written: ${r.file} (${String(r.tables)} tables, ${String(r.rows)} rows, sha256 ${r.fileSha256})\n`,
        );
        return 0;
      });
    }
    case 'restore':
      return restore(config, sub);
    case 'evidence':
      if (sub === 'verify') return evidenceCommand(undefined, sub, rest, values);
      return withPlatform(config, (p) => evidenceCommand(p, sub, rest, values));
    case 'registry':
      return withPlatform(config, (p) => registryCommand(p, sub, rest, values));
    case 'drugs':
      return withPlatform(config, (p) => drugsCommand(p, sub, rest, values));
    case 'pharmacies':
      return withPlatform(config, (p) => pharmaciesCommand(p, sub, rest, values));
    case 'pharmacy':
      return withPlatform(config, (p) => pharmacyCommand(p, sub, values));
    case 'sso':
      return withPlatform(config, (p) => ssoCommand(p, sub, rest, values));
    case 'network':
      return withPlatform(config, (p) =>
        sub === 'trust'
          ? networkTrustCommand(p, sub, values)
          : networkCommand(p, sub, rest, values),
      );
    case 'switch':
      if (sub === undefined) {
        await runSwitch(config);
        return -1; // keep running
      }
      if (sub !== 'participants') {
        process.stderr.write(SWITCH_USAGE);
        return 2;
      }
      return withPlatform(config, (p) =>
        participantsCommand(p, rest[0], rest.slice(1), values.json === true),
      );
    case 'demo':
      if (config.SCRIP_ENV === 'production') {
        throw new AppError('forbidden', 'demo data is refused when SCRIP_ENV is production');
      }
      return withPlatform(config, (p) => demoCommand(p, sub, values));
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
      // An operator needs the underlying reason for an unreachable service (no PHI in those).
      const cause =
        err.code === 'unavailable' && err.cause instanceof Error ? ` (${err.cause.message})` : '';
      process.stderr.write(`scrip: ${err.message}${cause}\n`);
      process.exit(err.code === 'config_invalid' ? 78 : 1);
    }
    process.stderr.write(`scrip: ${err instanceof Error ? err.message : 'failed'}\n`);
    process.exit(1);
  });
