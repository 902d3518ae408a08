import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  EmbeddedPostgres,
  migrateTarget,
  openAppDatabase,
  type DatabaseTarget,
} from '../src/db/index.js';
import { EMBEDDED_OWNER } from '../src/db/embedded-postgres.js';
import { LocalKeyProvider } from '../src/crypto/local-key-provider.js';
import { encryptionBench, PLAIN_TABLE_SQL } from './encryption.bench.js';
import { auditBench } from './audit.bench.js';
import { rxSignBench } from './rx-sign.bench.js';

/**
 * `npm run bench`: every benchmark against a real PostgreSQL (embedded, in a temporary directory,
 * or DATABASE_URL), printing one JSON object on stdout. Numbers, not assertions.
 * `npm run bench -- audit` (or `encryption`, `rx-sign`, several allowed) runs only those.
 */
const BENCHES = ['encryption', 'audit', 'rx-sign'] as const;
type BenchName = (typeof BENCHES)[number];

function selected(argv: readonly string[]): ReadonlySet<BenchName> {
  const unknown = argv.filter((a) => !(BENCHES as readonly string[]).includes(a));
  if (unknown.length > 0) {
    throw new TypeError(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.join(', ')}`);
  }
  return new Set(argv.length === 0 ? BENCHES : (argv as BenchName[]));
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function main(): Promise<void> {
  const only = selected(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'scrip-bench-'));
  let target: DatabaseTarget;
  let embedded: EmbeddedPostgres | undefined;
  if (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '') {
    const url = new URL(process.env.DATABASE_URL);
    const name = `scrip_bench_${String(Date.now())}`;
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url.pathname = `/${name}`;
    const app = new URL(url.toString());
    app.username = 'scrip_server';
    app.password = '';
    target = {
      kind: 'external',
      ownerUrl: url.toString(),
      appUrl: app.toString(),
      appUser: 'scrip_server',
      appPassword: undefined,
      embedded: undefined,
    };
  } else {
    embedded = new EmbeddedPostgres(dir, silent);
    await embedded.start();
    const c = embedded.credentials;
    target = {
      kind: 'embedded',
      ownerUrl: embedded.url(EMBEDDED_OWNER, c.ownerPassword),
      appUrl: embedded.url('scrip_server', c.appPassword),
      appUser: 'scrip_server',
      appPassword: c.appPassword,
      embedded,
    };
  }
  try {
    await migrateTarget(target);
    const owner = new pg.Client({ connectionString: target.ownerUrl });
    await owner.connect();
    await owner.query(PLAIN_TABLE_SQL);
    await owner.end();
    const db = await openAppDatabase(target, { max: 8, statementTimeoutMs: 60_000 });
    const provider = await LocalKeyProvider.open({ keyDir: join(dir, 'keys') });
    const results: Record<string, unknown> = { database: target.kind, node: process.version };
    if (only.has('encryption')) Object.assign(results, await encryptionBench(db, provider));
    if (only.has('audit')) Object.assign(results, await auditBench(db));
    if (only.has('rx-sign')) Object.assign(results, await rxSignBench(db, provider));
    await provider.close();
    await db.close();
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
