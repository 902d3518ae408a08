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
import { rxDeliveredBench } from './rx-delivered.bench.js';

/**
 * `npm run bench`: every benchmark against a real PostgreSQL (embedded, in a temporary directory,
 * or DATABASE_URL), printing one JSON object on stdout. Numbers, not assertions.
 * `npm run bench -- rx` (or `encryption`, `audit`, `delivery`, several) runs only the benchmarks named.
 */
const BENCHES = ['encryption', 'audit', 'rx', 'delivery'] as const;
const named = process.argv.slice(2);
for (const n of named) {
  if (!(BENCHES as readonly string[]).includes(n)) {
    process.stderr.write(`unknown benchmark ${n}; one of ${BENCHES.join(', ')}\n`);
    process.exit(2);
  }
}
const runs = (name: (typeof BENCHES)[number]): boolean =>
  named.length === 0 || named.includes(name);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function main(): Promise<void> {
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
    if (runs('encryption')) Object.assign(results, await encryptionBench(db, provider));
    if (runs('audit')) Object.assign(results, await auditBench(db));
    if (runs('rx')) Object.assign(results, await rxSignBench(db, provider));
    if (runs('delivery')) Object.assign(results, await rxDeliveredBench(db, provider));
    await provider.close();
    await db.close();
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await embedded?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
