import { chmodSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runScrip } from '../serve-process.js';

describe('scrip evidence (real processes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-evidence-cli-'));
  chmodSync(root, 0o755);
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
    rmSync(root, { recursive: true, force: true });
  });

  it('exports a signed bundle that verifies offline, and any tampering fails naming the file', async () => {
    const { env, drop } = await isolatedEnv(join(root, 'data'));
    drops.push(drop);
    const created = await runScrip(['tenants', 'create', '--name', 'Evidence Clinic'], env);
    expect(created.code, created.stderr).toBe(0);
    const tenant = created.stdout.split('\n')[0] ?? '';
    expect(tenant).toMatch(/^[0-9a-f-]{36}$/);

    // Evidence for the backup and audit controls, recorded by the commands themselves.
    const backupFile = join(root, 'backup.scrip');
    expect((await runScrip(['backup', '--out', backupFile], env)).code).toBe(0);
    const drill = await runScrip(['evidence', 'restore-drill', backupFile], env);
    expect(drill.code, drill.stderr).toBe(0);
    expect(drill.stdout).toMatch(/^Restore drill passed/);

    const dir = join(root, 'bundle');
    const exported = await runScrip(['evidence', 'export', '--tenant', tenant, '--out', dir], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(
      // 12 platform files plus the program and access-review sources.
      /^Evidence bundle written: .* \(14 files, manifest sha256 [0-9a-f]{64}/,
    );
    const report = JSON.parse(readFileSync(join(dir, 'controls/report.json'), 'utf8')) as {
      controls: { controlId: string; status: string; details: string }[];
    };
    const status = (id: string) => report.controls.find((c) => c.controlId === id)?.status;
    expect(status('backup-restore')).toBe('pass');
    expect(status('audit-verified')).toBe('pass');
    expect(status('inventory-complete')).toBe('pass');

    // Offline: no database, no configuration beyond PATH.
    const offline = { PATH: process.env.PATH };
    const ok = await runScrip(['evidence', 'verify', dir], offline);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^evidence bundle OK: 14 files, signed by /);

    const html = join(dir, 'controls/report.html');
    const original = readFileSync(html);
    const tampered = Buffer.from(original);
    tampered[100] = (tampered[100] ?? 0) ^ 0x20;
    writeFileSync(html, tampered);
    const bad = await runScrip(['evidence', 'verify', dir], offline);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'evidence bundle FAILED: controls/report.html: SHA-256 does not match',
    );
    writeFileSync(html, original);

    writeFileSync(join(dir, 'notes.txt'), 'added later\n');
    const extra = await runScrip(['evidence', 'verify', dir], offline);
    expect(extra.code).toBe(1);
    expect(extra.stderr).toContain('notes.txt: not listed in the manifest');
    unlinkSync(join(dir, 'notes.txt'));

    const svg = join(dir, 'inventory/data-flow-map.svg');
    const saved = readFileSync(svg);
    unlinkSync(svg);
    const missing = await runScrip(['evidence', 'verify', dir], offline);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'inventory/data-flow-map.svg: listed in the manifest but missing',
    );
    writeFileSync(svg, saved);
    expect((await runScrip(['evidence', 'verify', dir], offline)).code).toBe(0);
  }, 300_000);
});
