/**
 * `scrip backup --out FILE` and `scrip restore FILE`: an encrypted, integrity-protected logical
 * backup of the whole database (src/db/snapshot.ts inside src/crypto/backup.ts), supporting the
 * HIPAA Security Rule's data backup and disaster recovery plans, 45 CFR 164.308(a)(7)(ii)(A)-(B),
 * and encryption of ePHI at rest, 45 CFR 164.312(a)(2)(iv).
 *
 * Backup writes a temporary 0600 file next to FILE, fsyncs it, reads it back through the
 * decryptor (a backup that cannot be restored is worthless), then links it into place without
 * clobbering and fsyncs the directory. Restore authenticates the whole file before touching the
 * database, then restores in one transaction that commits only after the second read also
 * authenticated to the end with the same digest.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { AppError } from '../core/index.js';
import {
  createBackupDecryptor,
  createBackupEncryptor,
  verifyBackupFile,
  type BackupDigest,
} from '../crypto/backup.js';
import type { KeyProvider } from '../crypto/key-provider.js';
import { readMigrations } from '../db/migrate.js';
import { exportSnapshot, readRecords, type SnapshotSummary } from '../db/snapshot.js';
import { restoreSnapshot, sameMigrations, walkSnapshot } from '../db/snapshot-restore.js';

export interface BackupResult extends SnapshotSummary {
  readonly file: string;
  readonly bytes: number;
  /** SHA-256 of the file as written, for the operator's records. */
  readonly fileSha256: string;
  readonly plaintextSha256: string;
  readonly kekVersion: number;
}

export interface RestoreResult extends SnapshotSummary {
  readonly file: string;
  readonly plaintextSha256: string;
}

export interface BackupCommandOptions {
  /** Plaintext bytes per encrypted chunk (tests use small ones). */
  readonly chunkSize?: number;
}

export interface RestoreCommandOptions {
  /** Migrations to apply before loading rows (tests); the package's own by default. */
  readonly migrationsDir?: string;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'scrip-backup' });
  await client.connect().catch((err: unknown) => {
    throw new AppError('unavailable', 'cannot connect to the database as the owner', {
      cause: err,
    });
  });
  return client;
}

async function exists(path: string): Promise<boolean> {
  return fs.lstat(path).then(
    () => true,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    },
  );
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A Writable over an open file handle that the caller fsyncs and closes. */
function toHandle(handle: fs.FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      handle.write(chunk).then(
        () => {
          done();
        },
        (err: unknown) => {
          done(err as Error);
        },
      );
    },
  });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes an encrypted snapshot of the database at `ownerUrl` to `outFile` (never overwritten). */
export async function backupCommand(
  ownerUrl: string,
  keyProvider: KeyProvider,
  outFile: string,
  options: BackupCommandOptions = {},
): Promise<BackupResult> {
  const file = resolve(outFile);
  const dir = dirname(file);
  if (await exists(file)) {
    throw new AppError('conflict', `${file} already exists; backups never overwrite a file`);
  }
  const encryptor = await createBackupEncryptor(keyProvider, { chunkSize: options.chunkSize });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Date.now()}.partial`);
  const client = await connect(ownerUrl);
  let summary: SnapshotSummary | undefined;
  try {
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      const snapshot = exportSnapshot(client, { onDone: (s) => (summary = s) });
      await pipeline(Readable.from(snapshot), encryptor, toHandle(handle));
      await handle.sync();
    } finally {
      await handle.close();
    }
    const written = encryptor.digest;
    const check = await verifyBackupFile(keyProvider, tmp);
    if (summary === undefined || written?.plaintextSha256 !== check.plaintextSha256) {
      throw new AppError('integrity_error', 'the backup did not read back identically');
    }
    try {
      await fs.link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      throw new AppError('conflict', `${file} already exists; backups never overwrite a file`);
    }
    await fsyncDir(dir);
    const bytes = (await fs.stat(file)).size;
    return {
      file,
      bytes,
      fileSha256: await sha256File(file),
      plaintextSha256: check.plaintextSha256,
      kekVersion: encryptor.kekVersion,
      ...summary,
    };
  } finally {
    await client.end().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
  }
}

/** Decrypts `path` and feeds its records to `consume`; resolves once the file fully verified. */
async function readBackup<T>(
  keys: KeyProvider,
  path: string,
  consume: (records: AsyncIterable<unknown>, digest: () => BackupDigest | undefined) => Promise<T>,
): Promise<{ result: T; digest: BackupDigest }> {
  const decryptor = createBackupDecryptor(keys);
  let result: { value: T } | undefined;
  await pipeline(createReadStream(path), decryptor, async (source: AsyncIterable<Buffer>) => {
    result = { value: await consume(readRecords(source), () => decryptor.digest) };
  });
  const digest = decryptor.digest;
  if (result === undefined || digest === undefined) {
    throw new AppError('integrity_error', 'backup refused: the file did not verify');
  }
  return { result: result.value, digest };
}

/**
 * Restores `inFile` into the empty database at `ownerUrl`: verifies the file end to end, checks
 * that its migration history equals this Scrip's, then restores in one transaction (see
 * restoreSnapshot). A file that fails verification at any point leaves the database untouched.
 */
export async function restoreCommand(
  ownerUrl: string,
  appUser: string,
  keyProvider: KeyProvider,
  inFile: string,
  options: RestoreCommandOptions = {},
): Promise<RestoreResult> {
  const file = resolve(inFile);
  const first = await readBackup(keyProvider, file, (records) => walkSnapshot(records));
  const local = readMigrations(options.migrationsDir).map(({ version, name, checksum }) => ({
    version,
    name,
    checksum,
  }));
  if (!sameMigrations(first.result.header.migrations, local)) {
    throw new AppError(
      'conflict',
      `the backup's migration history (up to ${String(first.result.header.migrations.at(-1)?.version ?? 0)}) differs from this Scrip's (up to ${String(local.at(-1)?.version ?? 0)}); restore with the Scrip version that made it`,
    );
  }
  const client = await connect(ownerUrl);
  try {
    const second = await readBackup(keyProvider, file, (records, digest) =>
      restoreSnapshot(client, records, {
        appUser,
        migrationsDir: options.migrationsDir,
        beforeCommit: () => {
          if (digest()?.plaintextSha256 !== first.digest.plaintextSha256) {
            throw new AppError(
              'integrity_error',
              'backup refused: the file changed while restoring',
            );
          }
        },
      }),
    );
    return { file, plaintextSha256: second.digest.plaintextSha256, ...second.result };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface RestoreDrillResult extends SnapshotSummary {
  readonly file: string;
  /** SHA-256 of the file as read. */
  readonly fileSha256: string;
  readonly plaintextSha256: string;
}

/**
 * A restore drill (45 CFR 164.308(a)(7)(ii)(D) testing): everything `scrip restore` does short
 * of writing to a database. The whole file is decrypted and authenticated, every record parsed
 * through the snapshot grammar, and its migration history compared with this Scrip's. Throws on
 * the first problem, like a restore would.
 */
export async function restoreDrillCommand(
  keyProvider: KeyProvider,
  inFile: string,
  options: RestoreCommandOptions = {},
): Promise<RestoreDrillResult> {
  const file = resolve(inFile);
  const walked = await readBackup(keyProvider, file, (records) => walkSnapshot(records));
  const local = readMigrations(options.migrationsDir).map(({ version, name, checksum }) => ({
    version,
    name,
    checksum,
  }));
  if (!sameMigrations(walked.result.header.migrations, local)) {
    throw new AppError(
      'conflict',
      "the backup's migration history differs from this Scrip's; it would not restore here",
    );
  }
  return {
    file,
    fileSha256: await sha256File(file),
    plaintextSha256: walked.digest.plaintextSha256,
    ...walked.result.summary,
  };
}
