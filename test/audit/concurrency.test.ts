import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpoint, verifyAuditLog } from '../../src/audit/index.js';
import { appendMany, ORIGIN, scratchLog, testSigner, type ScratchLog } from './helpers.js';

const WORKER = fileURLToPath(new URL('./fixtures/append-worker.ts', import.meta.url));
const PER_WORKER = 300;

function startWorker(
  url: string,
  name: string,
): { child: ChildProcess; ready: Promise<void>; done: Promise<void> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER, url, String(PER_WORKER), name],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const seen = (word: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(word)) resolve();
      };
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        check();
      });
      child.once('exit', (code) => {
        if (!out.includes(word)) reject(new Error(`worker ${name} exited ${String(code)}: ${err}`));
      });
    });
  return { child, ready: seen('ready'), done: seen('done') };
}

/** Issue point 3: several server processes on one PostgreSQL keep one order, no forks, no gaps. */
describe('concurrent appenders in separate processes', () => {
  let log: ScratchLog;
  beforeAll(async () => {
    log = await scratchLog();
  });
  afterAll(async () => {
    await log.close();
  });

  it(`2 × ${PER_WORKER} appends from two processes (plus this one) form one gap-free verifiable log`, async () => {
    const workers = [startWorker(log.appUrl, 'A'), startWorker(log.appUrl, 'B')];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.write('go\n');
    await appendMany(log.db, 50); // and a third writer in the test process itself
    await Promise.all(workers.map((w) => w.done));

    const rows = await log.withOwner(
      async (c) =>
        (
          await c.query<{ seq: string; worker: string | null; i: number }>(
            "SELECT seq, details->>'worker' AS worker, (details->>'i')::int AS i FROM audit_log ORDER BY seq",
          )
        ).rows,
    );
    expect(rows.length).toBe(2 * PER_WORKER + 50);
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i));
    for (const name of ['A', 'B']) {
      const mine = rows.filter((r) => r.worker === name).map((r) => r.i);
      expect(mine).toEqual([...Array(PER_WORKER).keys()]);
    }
    // The workers really ran at the same time: their records interleave.
    const workerRows = rows.filter((r) => r.worker !== null);
    const switches = workerRows.filter((r, i) => i > 0 && r.worker !== workerRows[i - 1]!.worker);
    expect(switches.length).toBeGreaterThan(10);

    const signer = testSigner();
    await createCheckpoint(log.db, signer, ORIGIN);
    const report = await verifyAuditLog(log.db, signer.publicKey, { batchSize: 128 });
    expect(report).toMatchObject({ ok: true, records: 2 * PER_WORKER + 50, checkpoints: 1 });
  });
});
