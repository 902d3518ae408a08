import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runScrip } from '../serve-process.js';

/**
 * The audit actions in the exported (checkpointed) log of the database behind `env`: the way to
 * read a child's own embedded database after it has stopped.
 */
async function exportedActions(env: NodeJS.ProcessEnv, dir: string): Promise<string[]> {
  const withDir = { ...env, SCRIP_AUDIT_EXPORT_DIR: dir };
  const cp = await runScrip(['audit', 'checkpoint'], withDir);
  expect(cp.code, cp.stderr).toBe(0);
  const ex = await runScrip(['audit', 'export'], withDir);
  expect(ex.code, ex.stderr).toBe(0);
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    .map((line) => (JSON.parse(line) as { action: string }).action);
}

describe('scrip backup / restore (real processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-backup-cli-'));
  chmodSync(root, 0o755);
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
    rmSync(root, { recursive: true, force: true });
  });

  it('round-trips into an empty database and refuses a file with one flipped byte', async () => {
    const keyDir = join(root, 'keys');
    const source = await isolatedEnv(join(root, 'a'), { SCRIP_KEY_DIR: keyDir });
    drops.push(source.drop);
    const created = await runScrip(['tenants', 'create', '--name', 'Backup Clinic'], source.env);
    expect(created.code, created.stderr).toBe(0);
    const tenantId = created.stdout.trim();
    const file = join(root, 'scrip.backup');
    const backup = await runScrip(['backup', '--out', file], source.env);
    expect(backup.code, backup.stderr).toBe(0);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(readFileSync(file).includes(Buffer.from('Backup Clinic'))).toBe(false);
    expect((await runScrip(['backup', '--out', file], source.env)).code).not.toBe(0); // never overwrites
    // A whole-database export is an audit record (issue 6 point 1, exports).
    const sourceLog = await exportedActions(source.env, join(root, 'audit-a'));
    expect(sourceLog.filter((a) => a === 'backup.create')).toHaveLength(1);

    const target = await isolatedEnv(join(root, 'b'), { SCRIP_KEY_DIR: keyDir });
    drops.push(target.drop);
    const restored = await runScrip(['restore', file], target.env);
    expect(restored.code, restored.stderr).toBe(0);
    const status = await runScrip(['keys', 'status', '--json'], target.env);
    expect(status.code, status.stderr).toBe(0);
    expect(
      (JSON.parse(status.stdout) as { tenants: { tenantId: string }[] }).tenants.map(
        (t) => t.tenantId,
      ),
    ).toContain(tenantId);
    expect((await runScrip(['restore', file], target.env)).code).not.toBe(0); // not empty any more
    const targetLog = await exportedActions(target.env, join(root, 'audit-b'));
    expect(targetLog.filter((a) => a === 'backup.restore')).toHaveLength(1);

    const bytes = readFileSync(file);
    const tampered = Buffer.from(bytes);
    const at = Math.floor(bytes.length / 2);
    tampered[at] = (tampered[at] ?? 0) ^ 0x01;
    const bad = join(root, 'tampered.backup');
    writeFileSync(bad, tampered, { mode: 0o600 });
    const third = await isolatedEnv(join(root, 'c'), { SCRIP_KEY_DIR: keyDir });
    drops.push(third.drop);
    const refused = await runScrip(['restore', bad], third.env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/integrity|authentic|tamper/i);
  }, 240_000);
});

describe('SCRIP_REQUIRE_FIPS', () => {
  it('refuses to start without a working FIPS provider, naming the setting', async () => {
    const res = await runScrip(['config'], { PATH: process.env.PATH, SCRIP_REQUIRE_FIPS: '1' });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('SCRIP_REQUIRE_FIPS');
    expect((await runScrip(['config'], { PATH: process.env.PATH })).code).toBe(0);
  });
});
