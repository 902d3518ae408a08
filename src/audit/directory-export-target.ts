/**
 * A directory as a write-once export target. Each object is written to a temporary file in its
 * final directory, fsynced, made read-only (0444), then `link(2)`ed into place: link fails with
 * EEXIST instead of replacing (rename(2) would silently overwrite), so two writers, or a writer
 * and an attacker racing it, can never swap a sealed file. The directory is fsynced afterwards so
 * the new name survives a crash.
 *
 * Mode 0444 stops accidents and ordinary users, not root; put the directory on storage that
 * enforces retention (a WORM mount, an immutable snapshot) for a real SEC 17a-4-style guarantee,
 * and rely on the checkpoint signatures plus the witness (witness.ts) to detect what root does.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../core/index.js';
import {
  assertDigest,
  assertObjectName,
  objectConflict,
  verifyRead,
  type ExportTarget,
  type ExportTargetInfo,
  type GetOptions,
  type PutOnceOptions,
} from './export-target.js';

function errno(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await fs.open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and any missing parents below `root`, fsyncing each parent of a new one. */
async function ensureDir(root: string, dir: string): Promise<void> {
  if (dir === root) return;
  try {
    await fs.mkdir(dir, { mode: 0o755 });
    await fsyncDir(dirname(dir));
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw err;
    await ensureDir(root, dirname(dir));
    await ensureDir(root, dir);
  }
}

/** The write-once directory target; see the module comment. */
export class DirectoryExportTarget implements ExportTarget {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  describe(): ExportTargetInfo {
    return {
      kind: 'directory',
      key: `directory:${this.root}`,
      location: this.root,
      worm: 'create-once via link(2), fsync, mode 0444',
    };
  }

  #path(name: string): string {
    assertObjectName(name);
    return join(this.root, ...name.split('/'));
  }

  async putOnce(name: string, bytes: Uint8Array, options: PutOnceOptions): Promise<void> {
    const path = this.#path(name);
    assertDigest(name, bytes, options.sha256);
    const dir = dirname(path);
    await fs.mkdir(this.root, { recursive: true, mode: 0o755 });
    await ensureDir(this.root, dir);
    const temp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      try {
        await handle.writeFile(bytes);
        await handle.sync();
        await handle.chmod(0o444);
      } finally {
        await handle.close();
      }
      try {
        await fs.link(temp, path);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
        const existing = await fs.readFile(path);
        if (!existing.equals(Buffer.from(bytes))) throw objectConflict(name);
        return;
      }
      await fsyncDir(dir);
    } finally {
      await fs.unlink(temp).catch(() => undefined);
    }
  }

  async get(name: string, options?: GetOptions): Promise<Buffer> {
    const path = this.#path(name);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (err) {
      if (errno(err) === 'ENOENT')
        throw new AppError('not_found', `export object ${name} not found`);
      throw err;
    }
    return verifyRead(name, bytes, options);
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.tmp-')) continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return out.filter((n) => n.startsWith(prefix)).sort();
  }
}
