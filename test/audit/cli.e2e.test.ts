import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runScrip } from '../serve-process.js';

describe('scrip audit (real processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-audit-cli-'));
  chmodSync(root, 0o755);
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
    rmSync(root, { recursive: true, force: true });
  });

  it('verifies, checkpoints, proves, exports write-once and verifies the export offline', async () => {
    const exportDir = join(root, 'export');
    const witnessDir = join(root, 'witness');
    const { env, drop } = await isolatedEnv(join(root, 'data'), {
      SCRIP_AUDIT_EXPORT_DIR: exportDir,
      SCRIP_AUDIT_WITNESS_DIR: witnessDir,
    });
    drops.push(drop);
    for (let i = 0; i < 3; i += 1)
      expect((await runScrip(['keys', 'rotate-signing'], env)).code).toBe(0);
    const cp = await runScrip(['audit', 'checkpoint'], env);
    expect(cp.code, cp.stderr).toBe(0);
    expect(cp.stdout).toMatch(/Checkpoint signed at tree size \d+/);
    const verify = await runScrip(['audit', 'verify'], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/audit log OK: \d+ records, 1 checkpoints verified/);

    const proofFile = join(root, 'proof.json');
    expect((await runScrip(['audit', 'proof', '--seq', '0', '--out', proofFile], env)).code).toBe(
      0,
    );
    const pem = join(root, 'audit-key.pem');
    const key = await runScrip(['audit', 'public-key'], env);
    writeFileSync(pem, key.stdout);
    const offline = await runScrip(['audit', 'verify-proof', proofFile, '--public-key', pem], {
      PATH: process.env.PATH,
    });
    expect(offline.code, offline.stderr).toBe(0);

    const exported = await runScrip(['audit', 'export'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const files = readdirSync(exportDir, { recursive: true })
      .map(String)
      .filter((f) => statSync(join(exportDir, f)).isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(statSync(join(exportDir, f)).mode & 0o222).toBe(0);
    expect(readdirSync(witnessDir, { recursive: true }).length).toBeGreaterThan(0);
    expect((await runScrip(['audit', 'verify-export'], env)).code).toBe(0);
    expect((await runScrip(['audit', 'witness-check'], env)).code).toBe(0);

    const victim = join(exportDir, files.find((f) => f.endsWith('.jsonl')) ?? files[0] ?? '');
    chmodSync(victim, 0o644);
    writeFileSync(
      victim,
      readFileSync(victim, 'utf8').replace('key.signing.rotate', 'key.signing.rotaTE'),
    );
    const tampered = await runScrip(['audit', 'verify-export'], env);
    expect(tampered.code).not.toBe(0);
  }, 240_000);
});
