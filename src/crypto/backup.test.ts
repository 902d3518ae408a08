import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  BACKUP_MAGIC,
  createBackupDecryptor,
  createBackupEncryptor,
  verifyBackupFile,
} from './backup.js';
import type { KeyProvider } from './key-provider.js';
import { LocalKeyProvider } from './local-key-provider.js';

const HEADER_FIXED = 22;

async function collect(source: Readable, through: NodeJS.ReadWriteStream): Promise<Buffer> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(chunk);
      done();
    },
  });
  await pipeline(source, through, sink);
  return Buffer.concat(out);
}

async function encrypt(keys: KeyProvider, pieces: Buffer[], chunkSize = 16): Promise<Buffer> {
  return collect(Readable.from(pieces), await createBackupEncryptor(keys, { chunkSize }));
}

async function decrypt(keys: KeyProvider, file: Buffer): Promise<Buffer> {
  return collect(Readable.from([file]), createBackupDecryptor(keys));
}

/** Frame boundaries after the header: [start, end) of each frame. */
function frames(file: Buffer): [number, number][] {
  const result: [number, number][] = [];
  let at = HEADER_FIXED + file.readUInt16BE(20);
  while (at < file.length) {
    const end = at + 5 + file.readUInt32BE(at + 1) + 16;
    result.push([at, end]);
    at = end;
  }
  return result;
}

async function expectRefused(keys: KeyProvider, file: Buffer): Promise<void> {
  const err: unknown = await decrypt(keys, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('integrity_error');
}

describe('backup file format (STREAM over AES-256-GCM)', () => {
  let dir: string;
  let keys: LocalKeyProvider;
  let other: LocalKeyProvider;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scrip-backup-fmt-'));
    keys = await LocalKeyProvider.open({ keyDir: join(dir, 'keys') });
    other = await LocalKeyProvider.open({ keyDir: join(dir, 'other') });
  });
  afterAll(async () => {
    await keys.close();
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([0, 1, 15, 16, 17, 48, 1000])('round-trips %i bytes with 16-byte chunks', async (n) => {
    const data = randomBytes(n);
    const pieces = [data.subarray(0, 5), data.subarray(5, 40), data.subarray(40)];
    const encryptor = await createBackupEncryptor(keys, { chunkSize: 16 });
    const file = await collect(Readable.from(pieces.filter((p) => p.length > 0)), encryptor);
    expect(file.subarray(0, 8).equals(BACKUP_MAGIC)).toBe(true);
    if (n >= 16) expect(file.includes(data.subarray(0, 16))).toBe(false);
    const decryptor = createBackupDecryptor(keys);
    const plain = await collect(Readable.from([file]), decryptor);
    expect(plain.equals(data)).toBe(true);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(encryptor.digest).toEqual({ plaintextBytes: n, plaintextSha256: sha });
    expect(decryptor.digest).toEqual({ plaintextBytes: n, plaintextSha256: sha });
    // full chunks of 16, then the remainder, then the data-less final chunk
    expect(frames(file).length).toBe(Math.ceil(n / 16) + 1);
  });

  it('decrypts when the file arrives one byte at a time', async () => {
    const data = randomBytes(100);
    const file = await encrypt(keys, [data]);
    const bytes = [...file].map((b) => Buffer.from([b]));
    expect((await collect(Readable.from(bytes), createBackupDecryptor(keys))).equals(data)).toBe(
      true,
    );
  });

  it('refuses a flipped bit at every offset of the file', async () => {
    const file = await encrypt(keys, [randomBytes(70)]);
    for (let i = 0; i < file.length; i += 1) {
      const bad = Buffer.from(file);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      await expectRefused(keys, bad);
    }
  });

  it('refuses every truncation and any extension', async () => {
    const file = await encrypt(keys, [randomBytes(50)]);
    for (let n = 0; n < file.length; n += 1) await expectRefused(keys, file.subarray(0, n));
    await expectRefused(keys, Buffer.concat([file, Buffer.from([0])]));
    const [, last] = frames(file).slice(-2);
    await expectRefused(keys, Buffer.concat([file, file.subarray(last![0], last![1])]));
  });

  it('refuses reordered, dropped or duplicated chunks', async () => {
    const file = await encrypt(keys, [randomBytes(64)]);
    const f = frames(file);
    const head = file.subarray(0, f[0]![0]);
    const part = (i: number): Buffer => file.subarray(f[i]![0], f[i]![1]);
    const rest = f.slice(2).map((_, i) => part(i + 2));
    await expectRefused(keys, Buffer.concat([head, part(1), part(0), ...rest]));
    await expectRefused(keys, Buffer.concat([head, part(0), ...rest]));
    await expectRefused(keys, Buffer.concat([head, part(0), part(0), part(1), ...rest]));
  });

  it('refuses chunks spliced from another backup and a header from another backup', async () => {
    const a = await encrypt(keys, [Buffer.alloc(48, 1)]);
    const b = await encrypt(keys, [Buffer.alloc(48, 1)]);
    const fa = frames(a);
    const fb = frames(b);
    const spliced = Buffer.concat([a.subarray(0, fa[1]![0]), b.subarray(fb[1]![0])]);
    await expectRefused(keys, spliced);
    const headerSwap = Buffer.concat([b.subarray(0, fb[0]![0]), a.subarray(fa[0]![0])]);
    await expectRefused(keys, headerSwap);
  });

  it('refuses a file whose key was wrapped under an unknown KEK', async () => {
    const file = await encrypt(keys, [randomBytes(20)]);
    await expectRefused(other, file);
  });

  it('refuses garbage and files of another format', async () => {
    await expectRefused(keys, Buffer.from('not a backup at all'));
    await expectRefused(keys, Buffer.alloc(0));
    const file = await encrypt(keys, [randomBytes(20)]);
    const v2 = Buffer.from(file);
    v2[8] = 2;
    await expectRefused(keys, v2);
  });

  it('releases only authenticated chunks before failing', async () => {
    const data = randomBytes(64);
    const file = await encrypt(keys, [data]);
    const f = frames(file);
    const bad = Buffer.from(file);
    bad[f[2]![0] + 6] = (bad[f[2]![0] + 6] ?? 0) ^ 0x80;
    const seen: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        seen.push(chunk);
        done();
      },
    });
    await expect(
      pipeline(Readable.from([bad]), createBackupDecryptor(keys), sink),
    ).rejects.toMatchObject({ code: 'integrity_error' });
    expect(data.subarray(0, 32).equals(Buffer.concat(seen).subarray(0, 32))).toBe(true);
    expect(Buffer.concat(seen).length).toBeLessThanOrEqual(32);
  });

  it('verifies a file on disk and rejects chunk sizes out of bounds', async () => {
    const data = randomBytes(300);
    const path = join(dir, 'x.bak');
    writeFileSync(path, await encrypt(keys, [data], 64));
    expect((await verifyBackupFile(keys, path)).plaintextSha256).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    await expect(createBackupEncryptor(keys, { chunkSize: 8 })).rejects.toThrow(TypeError);
  });
});
