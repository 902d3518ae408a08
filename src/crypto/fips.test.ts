import { spawnSync } from 'node:child_process';
import { createHash, getFips } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { assertFipsIfRequired, cryptoModuleStatus, type CryptoModuleStatus } from './fips.js';

/**
 * This Node build bundles OpenSSL 3 without the FIPS provider, so everything here asserts the
 * "not operational" side; a FIPS-enabled build would fail these tests on purpose (and then the
 * expectations should flip, not be skipped).
 */
describe('crypto module status (FIPS)', () => {
  it('reports OpenSSL, the flag, and no working FIPS provider on this build', async () => {
    const status = await cryptoModuleStatus();
    expect(status.openssl).toBe(process.versions.openssl);
    expect(status.fipsFlag).toBe(getFips());
    expect(status.fipsOperational).toBe(false);
    expect(status.detail).toContain('no working FIPS provider');
    // The probe ran in a child: this process is still in non-FIPS mode and fully working.
    expect(getFips()).toBe(0);
    expect(createHash('sha256').update('abc').digest('hex')).toMatch(/^ba7816bf/);
  });

  it('does not trust the flag: after setFips(true) getFips() is 1 but operations fail', async () => {
    const { probe } = await cryptoModuleStatus();
    expect(probe.flag).toBe(1);
    expect(Object.values(probe.operations).some((r) => r.startsWith('failed'))).toBe(true);
    expect(probe.operations['sha-256']).toMatch(/^failed/);
  });

  it('node --force-fips refuses to start here (no fips.so), so a flag from it is impossible', () => {
    const child = spawnSync(process.execPath, ['--force-fips', '-e', 'process.exit(0)'], {
      encoding: 'utf8',
    });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/FIPS/);
  });

  it('assertFipsIfRequired(true) refuses to start, naming SCRIP_REQUIRE_FIPS', async () => {
    const err: unknown = await assertFipsIfRequired(true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('config_invalid');
    expect((err as AppError).message).toContain('SCRIP_REQUIRE_FIPS');
  });

  it('assertFipsIfRequired(false) passes without probing', async () => {
    let probed = false;
    const probe = async (): Promise<CryptoModuleStatus> => {
      probed = true;
      return cryptoModuleStatus();
    };
    await expect(assertFipsIfRequired(false, probe)).resolves.toBeUndefined();
    expect(probed).toBe(false);
  });

  it('accepts an operational module (as a FIPS-enabled build would report it)', async () => {
    const ok: CryptoModuleStatus = {
      openssl: '3.0.9',
      fipsFlag: 1,
      fipsOperational: true,
      detail: 'ok',
      probe: { flag: 1, operations: { 'aes-256-gcm': 'ok', 'sha-256': 'ok', 'ecdsa-p256': 'ok' } },
    };
    await expect(assertFipsIfRequired(true, async () => ok)).resolves.toBe(ok);
  });
});
