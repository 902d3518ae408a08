import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, chmodSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/index.js';
import {
  DirectoryExportTarget,
  S3ExportTarget,
  retentionPolicy,
  sha256Hex,
  type ExportTarget,
} from '../../src/audit/index.js';
import { FakeObjectLockBucket } from './fake-s3.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'scrip-export-'));
  dirs.push(d);
  return d;
}

const put = (t: ExportTarget, name: string, text: string): Promise<void> => {
  const bytes = Buffer.from(text);
  return t.putOnce(name, bytes, { sha256: sha256Hex(bytes) });
};

/** The ExportTarget contract, run against every implementation. */
function contract(name: string, make: () => ExportTarget): void {
  describe(`${name}: ExportTarget contract`, () => {
    it('stores once, reads back verified, lists by prefix', async () => {
      const t = make();
      await put(t, 'segments/a.json', 'one');
      await put(t, 'segments/b.json', 'two');
      await put(t, 'checkpoints/c.note', 'three');
      expect((await t.get('segments/a.json')).toString()).toBe('one');
      await expect(
        t.get('segments/a.json', { sha256: sha256Hex(Buffer.from('one')) }),
      ).resolves.toEqual(Buffer.from('one'));
      await expect(
        t.get('segments/a.json', { sha256: sha256Hex(Buffer.from('x')) }),
      ).rejects.toMatchObject({ code: 'integrity_error' });
      expect(await t.list('segments/')).toEqual(['segments/a.json', 'segments/b.json']);
      expect(await t.list('')).toHaveLength(3);
    });
    it('re-putting identical bytes succeeds; different bytes are a conflict and change nothing', async () => {
      const t = make();
      await put(t, 'x/y.bin', 'sealed');
      await put(t, 'x/y.bin', 'sealed');
      await expect(put(t, 'x/y.bin', 'rewritten')).rejects.toMatchObject({ code: 'conflict' });
      expect((await t.get('x/y.bin')).toString()).toBe('sealed');
      expect(await t.list('x/')).toEqual(['x/y.bin']);
    });
    it('refuses a wrong digest, a missing object and unsafe names', async () => {
      const t = make();
      await expect(
        t.putOnce('a', Buffer.from('a'), { sha256: sha256Hex(Buffer.from('b')) }),
      ).rejects.toMatchObject({ code: 'integrity_error' });
      await expect(t.get('nope')).rejects.toMatchObject({ code: 'not_found' });
      for (const bad of ['../escape', '/abs', 'a//b', 'a/../b', '.tmp-x', '']) {
        await expect(put(t, bad, 'z')).rejects.toBeInstanceOf(TypeError);
      }
    });
    it('concurrent writers of the same name: one content wins, the other is a conflict', async () => {
      const t = make();
      const results = await Promise.allSettled([put(t, 'race', 'A'), put(t, 'race', 'B')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const stored = (await t.get('race')).toString();
      expect(['A', 'B']).toContain(stored);
    });
  });
}

contract('DirectoryExportTarget', () => new DirectoryExportTarget(tempDir()));
const clock = new ManualClock(Date.UTC(2026, 0, 1));
contract(
  'S3ExportTarget (in-memory fake port)',
  () =>
    new S3ExportTarget({
      client: new FakeObjectLockBucket('audit', () => clock.now()),
      bucket: 'audit',
      keyPrefix: 'scrip/',
      retention: retentionPolicy(7),
      clock,
    }),
);

describe('DirectoryExportTarget specifics', () => {
  it('leaves read-only files and no temporaries', async () => {
    const root = tempDir();
    const t = new DirectoryExportTarget(root);
    await put(t, 'segments/s.json', 'sealed');
    expect(statSync(join(root, 'segments', 's.json')).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(root, 'segments'))).toEqual(['s.json']);
    expect(t.describe()).toMatchObject({ kind: 'directory', key: `directory:${root}` });
  });
  it('a file changed behind its back is a conflict on re-put and fails a digest read', async () => {
    const root = tempDir();
    const t = new DirectoryExportTarget(root);
    await put(t, 'f', 'sealed');
    const path = join(root, 'f');
    chmodSync(path, 0o644);
    writeFileSync(path, 'forged');
    await expect(put(t, 'f', 'sealed')).rejects.toMatchObject({ code: 'conflict' });
    await expect(t.get('f', { sha256: sha256Hex(Buffer.from('sealed')) })).rejects.toMatchObject({
      code: 'integrity_error',
    });
  });
});

describe('S3ExportTarget specifics (fake port)', () => {
  it('writes with If-None-Match, COMPLIANCE lock retained for the policy, and checksums', async () => {
    const bucket = new FakeObjectLockBucket('audit', () => clock.now());
    const t = new S3ExportTarget({
      client: bucket,
      bucket: 'audit',
      retention: retentionPolicy(6),
      clock,
    });
    await put(t, 'segments/a', 'sealed');
    const sent = bucket.puts[0]!;
    expect(sent).toMatchObject({
      IfNoneMatch: '*',
      ObjectLockMode: 'COMPLIANCE',
      Key: 'segments/a',
    });
    expect(sent.ObjectLockRetainUntilDate.toISOString()).toBe('2032-01-01T00:00:00.000Z');
    expect(await t.lockOf('segments/a')).toMatchObject({ mode: 'COMPLIANCE' });
    expect(() => {
      bucket.deleteObject('segments/a');
    }).toThrow(/COMPLIANCE/);
    await expect(put(t, 'segments/a', 'other')).rejects.toMatchObject({ code: 'conflict' });
    expect(t.describe()).toMatchObject({ kind: 's3', key: 's3:s3://audit/' });
  });
  it('damage below the API is caught by the stored checksum on read', async () => {
    const bucket = new FakeObjectLockBucket('audit', () => clock.now());
    const t = new S3ExportTarget({
      client: bucket,
      bucket: 'audit',
      retention: retentionPolicy(),
      clock,
    });
    await put(t, 'k', 'sealed');
    bucket.corrupt('k', Buffer.from('rotted'));
    await expect(t.get('k')).rejects.toMatchObject({ code: 'integrity_error' });
  });
});
