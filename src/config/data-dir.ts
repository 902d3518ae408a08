import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  chmodSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AppError } from '../core/index.js';

/**
 * `./data` holds everything private to one installation. It is created 0700; when Scrip runs as
 * root and the embedded database runs as an unprivileged user, it is 0710 with that user's group
 * so the database user can traverse into `./data/pg` and nothing else (every file inside stays
 * 0600/0700 and owned by Scrip).
 */
export function ensurePrivateDir(path: string, mode = 0o700): string {
  const abs = resolve(path);
  mkdirSync(abs, { recursive: true, mode });
  // Tighten anything looser than asked, but keep group traversal (0710) that the embedded
  // database's user was given: a second, refused `scrip` must not lock a running server out.
  const current = statSync(abs).mode & 0o777;
  const wanted = mode | (current & 0o010);
  if (current !== wanted) chmodSync(abs, wanted);
  return abs;
}

/** Writes a file atomically-enough for secrets: exclusive create, mode 0600, fsync file and dir. */
export function writePrivateFile(path: string, content: string | Buffer): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(path));
}

export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Refuses a secret file that group or others can read. */
export function assertPrivateFile(path: string): void {
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    throw new AppError(
      'config_invalid',
      `${path} must not be accessible to group or others (chmod 600)`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface InstanceLock {
  release(): void;
}

/**
 * One `scrip serve` per data directory: an exclusive lock file holding the owner's pid. A stale
 * lock (its process gone, e.g. after SIGKILL) is taken over; a live one refuses the start.
 */
export function acquireInstanceLock(dataDir: string, what = 'scrip serve'): InstanceLock {
  const path = join(dataDir, 'scrip.lock');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
      closeSync(fd);
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError(
          'conflict',
          `another ${what} (pid ${pid}) is already using ${dataDir}; stop it first`,
        );
      }
      unlinkSync(path);
    }
  }
  throw new AppError('conflict', `could not lock ${dataDir}`);
}
