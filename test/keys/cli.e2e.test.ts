import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../src/core/index.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { isolatedEnv, runScrip, scripBin, sharedDbEnv } from '../serve-process.js';
import { createSoftHsmToken, type SoftHsmToken } from '../softhsm.js';

describe('scrip keys rotate-dek (real processes)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'scrip-cli-'));
  let p: TestPlatform;
  let tenant: TenantId;
  let ids: string[];

  beforeAll(async () => {
    p = await testPlatform(undefined, { keyDir: join(dataDir, 'keys') });
    tenant = await freshTenant(p.db);
    ids = await p.db.withTenant(tenant, async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 300; i += 1)
        out.push(
          await p.patients.create(tx, tenant, {
            givenName: `G${String(i)}`,
            familyName: 'Resume',
            birthDate: '1980-02-02',
          }),
        );
      return out;
    });
  }, 120_000);
  afterAll(async () => {
    await p.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('survives SIGKILL mid-way and resumes where it stopped; every record reads back', async () => {
    const env = sharedDbEnv(dataDir, { SCRIP_KEY_DIR: join(dataDir, 'keys') });
    const killedAt = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [scripBin(), 'keys', 'rotate-dek', '--tenant', tenant, '--batch', '5'],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        const done = [...err.matchAll(/progress (\d+)\//g)].map((m) => Number(m[1]));
        const last = done[done.length - 1];
        if (last !== undefined && last >= 50) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => {
        const done = [...err.matchAll(/progress (\d+)\//g)].map((m) => Number(m[1]));
        if (signal !== 'SIGKILL')
          reject(new Error(`rotate-dek was not killed (code ${String(code)}): ${err}`));
        else resolve(done[done.length - 1] ?? 0);
      });
    });
    expect(killedAt).toBeGreaterThanOrEqual(50);
    expect(killedAt).toBeLessThan(300);
    const resumed = await runScrip(
      ['keys', 'rotate-dek', '--tenant', tenant, '--batch', '50'],
      env,
    );
    expect(resumed.stderr).toMatch(/Resuming re-encryption to data key v2: (\d+)\/300 rows/);
    const from = Number(/Resuming re-encryption to data key v2: (\d+)\//.exec(resumed.stderr)?.[1]);
    expect(from).toBeGreaterThanOrEqual(killedAt);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('Data key v2 current; 300 rows re-encrypted');
    p.keyring.forget();
    const names = await p.db.withTenant(tenant, async (tx) => {
      const out: string[] = [];
      for (const id of ids) {
        const r = await p.patients.get(tx, tenant, id);
        out.push(r.shredded ? 'X' : r.givenName);
      }
      return out;
    });
    expect(names).toEqual(ids.map((_, i) => `G${String(i)}`));
    const status = await runScrip(['keys', 'status', '--json'], env);
    const parsed = JSON.parse(status.stdout) as {
      tenants: {
        tenantId: string;
        keys: { version: number; status: string; rows: number; purpose: string }[];
      }[];
    };
    const mine = parsed.tenants
      .find((t) => t.tenantId === tenant)
      ?.keys.filter((k) => k.purpose === 'field');
    expect(mine).toEqual([
      expect.objectContaining({ version: 1, status: 'destroyed', rows: 0 }),
      expect.objectContaining({ version: 2, status: 'active', rows: 300 }),
    ]);
  }, 180_000);
});

describe('the pkcs11 key provider from configuration (SoftHSM2)', () => {
  let token: SoftHsmToken;
  const dataDir = mkdtempSync(join(tmpdir(), 'scrip-hsm-'));

  beforeAll(async () => {
    token = await createSoftHsmToken({ setEnv: false });
  });
  afterAll(async () => {
    await token.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs with a key generated on the token and reports the provider without the PIN', async () => {
    const { env, drop } = await isolatedEnv(dataDir, {
      SCRIP_KEY_PROVIDER: 'pkcs11',
      SCRIP_PKCS11_MODULE: token.modulePath,
      SCRIP_PKCS11_TOKEN_LABEL: token.tokenLabel,
      SCRIP_PKCS11_PIN: token.pin,
      SOFTHSM2_CONF: token.confPath,
    });
    try {
      const rotated = await runScrip(['keys', 'rotate-signing'], env);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/Signing key \S+ is active/);
      const status = await runScrip(['keys', 'status'], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`KEK: provider pkcs11, version 1, token ${token.tokenLabel}`);
      const config = await runScrip(['config'], env);
      for (const out of [rotated, status, config]) {
        expect(out.stdout + out.stderr).not.toContain(token.pin);
      }
      const wrongPin = await runScrip(['keys', 'status'], { ...env, SCRIP_PKCS11_PIN: '000000' });
      expect(wrongPin.code).not.toBe(0);
      expect(wrongPin.stderr).not.toContain('000000');
    } finally {
      await drop();
    }
  }, 120_000);
});
