import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDatabase } from '../db.js';
import { runScrip, sharedDbEnv, startServe, type ServeProcess } from '../serve-process.js';

/** A failed sign-in over HTTPS (each one appends audit records: the failure, maybe a lockout). */
function failedLogin(port: number, ca: string, n: number): Promise<number> {
  const body = JSON.stringify({
    email: `nobody-${String(n)}@example.test`,
    password: 'x'.repeat(16),
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/auth/login',
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Issue 6, done-when: two `scrip serve` processes on one PostgreSQL, appending at once, produce one
 * gap-free log that `scrip audit verify` accepts (test/audit/concurrency.test.ts proves the same
 * for bare appenders; this one goes through the whole server).
 */
describe('two scrip serve processes appending to one audit log', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-audit-two-serves-'));
  const keyDir = join(root, 'keys');
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
  const serves: ServeProcess[] = [];
  const envFor = (name: string): NodeJS.ProcessEnv =>
    sharedDbEnv(join(root, name), {
      DATABASE_URL: scratch.ownerUrl,
      DATABASE_APP_URL: scratch.appUrl,
      SCRIP_KEY_DIR: keyDir,
    });

  beforeAll(async () => {
    scratch = await scratchDatabase();
    // One after the other: the first start migrates and creates the keys the second one reuses.
    serves.push(await startServe(envFor('a')));
    serves.push(await startServe(envFor('b')));
  }, 240_000);
  afterAll(async () => {
    for (const s of serves) await s.stop();
    await scratch.drop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('interleaved requests to both servers leave a gap-free log that verifies', async () => {
    const seqs = async (): Promise<number[]> => {
      const c = new pg.Client({ connectionString: scratch.ownerUrl });
      await c.connect();
      try {
        const { rows } = await c.query<{ seq: string }>('SELECT seq FROM audit_log ORDER BY seq');
        return rows.map((r) => Number(r.seq));
      } finally {
        await c.end();
      }
    };
    const before = (await seqs()).length;
    const cas = ['a', 'b'].map((n) => readFileSync(join(root, n, 'tls', 'ca.pem'), 'utf8'));
    const [a, b] = serves;
    if (a === undefined || b === undefined) throw new TypeError('two servers expected');
    const calls: Promise<number>[] = [];
    for (let i = 0; i < 40; i += 1) {
      calls.push(failedLogin(a.port, cas[0] ?? '', i));
      calls.push(failedLogin(b.port, cas[1] ?? '', 1000 + i));
    }
    const statuses = await Promise.all(calls);
    // Every request was answered by its server (401 or, once the source is throttled, 429).
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);

    const all = await seqs();
    expect(all.length - before).toBeGreaterThanOrEqual(80);
    // One order, no gaps, no forks: seq runs 0..n-1 without a hole or a repeat.
    const holes = all.filter((s, i) => s !== i).slice(0, 5);
    expect(holes, `first out-of-place seq values: ${holes.join(', ')}`).toEqual([]);

    const verify = await runScrip(['audit', 'verify', '--json'], envFor('verifier'));
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  }, 180_000);
});
