import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../src/config/index.js';

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected loadConfig to fail');
}

describe('configuration', () => {
  it('has secure, working defaults', () => {
    const c = loadConfig({});
    expect(c.SCRIP_PORT).toBe(8443);
    expect(c.SCRIP_HOST).toBe('localhost');
    expect(c.SCRIP_INSECURE_HTTP).toBe(false);
    expect(c.SCRIP_DATA_DIR).toBe('./data');
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it('converts and validates environment strings', () => {
    const c = loadConfig({
      SCRIP_PORT: '9443',
      SCRIP_INSECURE_HTTP: 'true',
      SCRIP_LOG_LEVEL: 'warn',
    });
    expect(c).toMatchObject({
      SCRIP_PORT: 9443,
      SCRIP_INSECURE_HTTP: true,
      SCRIP_LOG_LEVEL: 'warn',
    });
  });

  it('stops with a message naming the bad key', () => {
    expect(failure({ SCRIP_PORT: 'eighty' })).toMatch(/^configuration SCRIP_PORT:/);
    expect(failure({ SCRIP_PORT: '70000' })).toMatch(/^configuration SCRIP_PORT:/);
    expect(failure({ SCRIP_INSECURE_HTTP: 'maybe' })).toMatch(
      /^configuration SCRIP_INSECURE_HTTP:/,
    );
    expect(failure({ SCRIP_LOG_LEVEL: 'loud' })).toMatch(/^configuration SCRIP_LOG_LEVEL:/);
    expect(failure({ DATABASE_URL: 'mysql://x' })).toMatch(/^configuration DATABASE_URL:/);
    expect(failure({ SCRIP_DB_APP_USER: 'Robert"; DROP' })).toMatch(
      /^configuration SCRIP_DB_APP_USER:/,
    );
    expect(failure({ SCRIP_TLS_CERT_FILE: '/x.pem' })).toMatch(/SCRIP_TLS_KEY_FILE/);
  });

  it('refuses unknown SCRIP_ settings so a typo cannot fall back to a default', () => {
    expect(failure({ SCRIP_PROT: '1' })).toMatch(/^configuration SCRIP_PROT: unknown setting/);
  });

  it('reads a JSON config file, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-cfg-'));
    const file = join(dir, 'scrip.json');
    writeFileSync(file, JSON.stringify({ SCRIP_PORT: 7443, SCRIP_LOG_LEVEL: 'debug' }));
    expect(loadConfig({ SCRIP_CONFIG_FILE: file, SCRIP_LOG_LEVEL: 'error' })).toMatchObject({
      SCRIP_PORT: 7443,
      SCRIP_LOG_LEVEL: 'error',
    });
    writeFileSync(file, JSON.stringify({ SCRIP_PORTT: 1 }));
    expect(failure({ SCRIP_CONFIG_FILE: file })).toMatch(/^configuration SCRIP_PORTT:/);
    writeFileSync(file, '{not json');
    expect(failure({ SCRIP_CONFIG_FILE: file })).toMatch(/^configuration SCRIP_CONFIG_FILE:/);
  });

  it('masks secrets and connection passwords when described', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://owner:hunter2hunter2@db:5432/scrip',
      SCRIP_DB_APP_PASSWORD: 's3cret-app',
    });
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain('hunter2hunter2');
    expect(shown).not.toContain('s3cret-app');
    expect(shown).toContain('postgres://owner:****@db:5432/scrip');
  });
});

describe('the private data directory', () => {
  it('is created 0700, tightened when too open, and keeps the database user’s traversal bit', async () => {
    const { ensurePrivateDir } = await import('../../src/config/index.js');
    const { chmodSync, statSync } = await import('node:fs');
    const dir = join(mkdtempSync(join(tmpdir(), 'scrip-dd-')), 'data');
    ensurePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    chmodSync(dir, 0o757);
    ensurePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o710); // no read or write for group, nothing for others
    chmodSync(dir, 0o710);
    ensurePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o710);
  });
});
