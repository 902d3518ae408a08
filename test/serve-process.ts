import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inject } from 'vitest';
import { packagePath } from '../src/db/index.js';
import { scratchDatabase } from './db.js';

/** A real `scrip serve` child process (built bin, own data dir), for end-to-end tests. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Everything written to stdout and stderr, interleaved. */
  output(): string;
  /** What was written to stdout alone. */
  stdout(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function scripBin(): string {
  const bin = packagePath('dist', 'main.js');
  if (!existsSync(bin))
    throw new Error('dist/main.js is missing: run npm run build (npm test does)');
  return bin;
}

/** A minimal child environment: no secrets of the test process leak into it. */
function baseEnv(dataDir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SCRIP_DATA_DIR: dataDir,
    SCRIP_PORT: '0',
    SCRIP_METRICS_PORT: '0',
    SCRIP_LOG_LEVEL: 'info',
    // The one-machine network binds fixed ports: off unless a test asks for it.
    SCRIP_LOCAL_NETWORK: 'off',
    ...extra,
  };
}

/**
 * Environment for a child process with its own database: the embedded one in `dataDir`, or, when
 * the run uses DATABASE_URL, a scratch database of its own (one key provider per database, as in
 * production). Call `drop` when done.
 */
export async function isolatedEnv(
  dataDir: string,
  extra: Record<string, string> = {},
): Promise<{ env: NodeJS.ProcessEnv; drop: () => Promise<void> }> {
  const env = baseEnv(dataDir, extra);
  if (inject('db').kind === 'embedded') return { env, drop: async () => undefined };
  const scratch = await scratchDatabase();
  env.DATABASE_URL = scratch.ownerUrl;
  return { env, drop: scratch.drop };
}

/** Environment for a child on the run's shared database (external or embedded, app role given). */
export function sharedDbEnv(
  dataDir: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const db = inject('db');
  return baseEnv(dataDir, { DATABASE_URL: db.ownerUrl, DATABASE_APP_URL: db.appUrl, ...extra });
}

export function runScrip(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [scripBin(), ...args], {
      env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin?.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

export async function startServe(
  env: NodeJS.ProcessEnv,
  timeoutMs = 90_000,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [scripBin(), 'serve'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`scrip serve did not start:\n${out}`));
    }, timeoutMs);
    const check = (): void => {
      const m = /listening on https?:\/\/[^:\s]+:(\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`scrip serve exited (${String(code)}):\n${out}`));
    });
  });
  return {
    child,
    port,
    output: () => out,
    stdout: () => stdout,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
