/**
 * Fresh SoftHSM2 tokens for tests. Each call makes a temp directory holding a `softhsm2.conf`
 * (`directories.tokendir` inside it) and one token initialised by `softhsm2-util`, and points
 * `SOFTHSM2_CONF` at it.
 *
 * SoftHSM reads `SOFTHSM2_CONF` and scans its token directory at C_Initialize, and a process
 * initialises a module once. `Pkcs11KeyProvider` finalises the module when its last instance
 * closes, so: create the token, open providers on it, close them all, then create the next one.
 * A token made while a provider is still open is not visible to it (the open fails: token not
 * found). Missing softhsm2 makes this throw, so tests fail rather than skip.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The SoftHSM2 PKCS#11 module (Debian/Ubuntu path); `SOFTHSM2_MODULE` overrides it. */
export const SOFTHSM_MODULE_PATH =
  process.env['SOFTHSM2_MODULE'] ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  /** The `softhsm2.conf` this token lives under (also put in `process.env.SOFTHSM2_CONF`). */
  readonly confPath: string;
  readonly dir: string;
  /** Removes the directory and restores the previous `SOFTHSM2_CONF`. Close providers first. */
  cleanup(): Promise<void>;
}

export interface SoftHsmTokenOptions {
  readonly label?: string;
  /** Set `process.env.SOFTHSM2_CONF` (default true). */
  readonly setEnv?: boolean;
}

/** Creates a fresh token in its own temp directory; random PINs, so a leak is recognisable. */
export async function createSoftHsmToken(options: SoftHsmTokenOptions = {}): Promise<SoftHsmToken> {
  await access(SOFTHSM_MODULE_PATH).catch((cause: unknown) => {
    throw new Error(`SoftHSM2 module not found at ${SOFTHSM_MODULE_PATH}; install softhsm2`, {
      cause,
    });
  });
  const dir = await mkdtemp(join(tmpdir(), 'scrip-softhsm-'));
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  const confPath = join(dir, 'softhsm2.conf');
  await writeFile(
    confPath,
    [
      `directories.tokendir = ${tokenDir}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      'slots.removable = false',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const tokenLabel = options.label ?? `scrip-test-${randomBytes(4).toString('hex')}`;
  const pin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  const env = { ...process.env, SOFTHSM2_CONF: confPath };
  const args = ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', soPin];
  try {
    await promisify(execFile)('softhsm2-util', args, { env });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    // The error's argv holds the PINs, so only its code and stderr are passed on.
    const { code, stderr } = err as NodeJS.ErrnoException & { stderr?: string };
    const why = code === 'ENOENT' ? 'softhsm2-util is not on PATH; install softhsm2' : stderr;
    throw new Error(`SoftHSM2 token setup failed: ${why ?? String(code)}`);
  }
  const previous = process.env['SOFTHSM2_CONF'];
  if (options.setEnv !== false) process.env['SOFTHSM2_CONF'] = confPath;
  return {
    modulePath: SOFTHSM_MODULE_PATH,
    tokenLabel,
    pin,
    soPin,
    confPath,
    dir,
    async cleanup() {
      if (options.setEnv !== false && process.env['SOFTHSM2_CONF'] === confPath) {
        if (previous === undefined) delete process.env['SOFTHSM2_CONF'];
        else process.env['SOFTHSM2_CONF'] = previous;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
