/**
 * Which cryptographic module Scrip's node:crypto runs on, and whether it is a working FIPS 140-3
 * validated provider (the module boundary HIPAA guidance and DEA EPCS, 21 CFR 1311.120(b)(11),
 * point to). Node 20 bundles OpenSSL 3 without the FIPS provider (`fips.so`): `node
 * --enable-fips` then refuses to start, and `crypto.setFips(true)` makes `getFips()` return 1
 * while every operation fails ("unsupported"). So the flag is never trusted: a child process
 * (so this process's OpenSSL state is untouched) switches FIPS on and runs the operations Scrip
 * relies on (AES-256-GCM, SHA-256, ECDSA P-256 sign/verify) with known-answer checks.
 * `SCRIP_REQUIRE_FIPS=1` refuses to start unless they all work.
 */
import { execFile } from 'node:child_process';
import { getFips } from 'node:crypto';
import { AppError } from '../core/index.js';

/** The operations probed; all must work for the module to count as operational. */
export const FIPS_PROBE_OPERATIONS = ['aes-256-gcm', 'sha-256', 'ecdsa-p256'] as const;
export type FipsProbeOperation = (typeof FIPS_PROBE_OPERATIONS)[number];

export interface CryptoModuleStatus {
  /** `process.versions.openssl` of this process. */
  readonly openssl: string;
  /** `crypto.getFips()` of this process (1 only means FIPS mode was asked for). */
  readonly fipsFlag: number;
  /** True only when, with FIPS mode on, every probed operation produced the right answer. */
  readonly fipsOperational: boolean;
  /** One line for logs and `scrip doctor`; no secrets. */
  readonly detail: string;
  /** What the child saw: its getFips() after switching FIPS on, and each operation's result. */
  readonly probe: {
    readonly flag: number;
    readonly operations: Readonly<Partial<Record<FipsProbeOperation, string>>>;
  };
}

/** Runs in the child (CommonJS, `node -e`); prints one JSON line. */
const PROBE = String.raw`
const c = require('node:crypto');
const out = { flag: 0, setFips: 'ok', operations: {} };
try { if (!c.getFips()) c.setFips(true); } catch (e) { out.setFips = String(e && e.message).split('\n')[0].slice(0, 200); }
out.flag = c.getFips();
const run = (name, fn) => {
  try { out.operations[name] = fn() ? 'ok' : 'wrong result'; }
  catch (e) { out.operations[name] = 'failed: ' + String((e && (e.code || e.message)) || e).split('\n')[0].slice(0, 120); }
};
run('aes-256-gcm', () => {
  const key = Buffer.alloc(32, 7), iv = Buffer.alloc(12, 9);
  const enc = c.createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const ct = Buffer.concat([enc.update('scrip fips probe'), enc.final()]);
  const dec = c.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  dec.setAuthTag(enc.getAuthTag());
  return Buffer.concat([dec.update(ct), dec.final()]).toString() === 'scrip fips probe';
});
run('sha-256', () => c.createHash('sha256').update('abc').digest('hex') ===
  'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
run('ecdsa-p256', () => {
  const { privateKey, publicKey } = c.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.from('scrip fips probe');
  const sig = c.sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return c.verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
});
process.stdout.write(JSON.stringify(out) + '\n');
`;

interface ProbeOutput {
  flag: number;
  setFips: string;
  operations: Partial<Record<FipsProbeOperation, string>>;
}

function parseProbe(stdout: string): ProbeOutput | undefined {
  try {
    const value = JSON.parse(stdout.trim()) as Partial<ProbeOutput> | null;
    if (typeof value?.flag !== 'number' || typeof value.setFips !== 'string') return undefined;
    if (typeof value.operations !== 'object') return undefined;
    return { flag: value.flag, setFips: value.setFips, operations: value.operations };
  } catch {
    return undefined;
  }
}

function runProbe(timeoutMs: number): Promise<{ output?: ProbeOutput; error?: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['-e', PROBE],
      { timeout: timeoutMs, maxBuffer: 64 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        const output = parseProbe(stdout);
        if (output !== undefined) {
          done({ output });
          return;
        }
        const why = stderr.trim().split('\n')[0] ?? '';
        done({ error: `FIPS probe failed: ${why || (err?.message ?? 'no output')}`.slice(0, 300) });
      },
    );
  });
}

/**
 * Reports the crypto module. Spawns one short-lived child of this same Node binary.
 *
 * @param options.timeoutMs bound on the child (default 15 s); a timeout reports not operational.
 */
export async function cryptoModuleStatus(
  options: { timeoutMs?: number } = {},
): Promise<CryptoModuleStatus> {
  const openssl = process.versions.openssl;
  const fipsFlag = getFips();
  const { output, error } = await runProbe(options.timeoutMs ?? 15_000);
  const operations = output?.operations ?? {};
  const failed = FIPS_PROBE_OPERATIONS.filter((op) => operations[op] !== 'ok');
  const fipsOperational = output !== undefined && output.flag === 1 && failed.length === 0;
  let detail: string;
  if (output === undefined) {
    detail = `OpenSSL ${openssl}: ${error ?? 'FIPS probe failed'}`;
  } else if (fipsOperational) {
    detail = `OpenSSL ${openssl}: FIPS provider operational (${FIPS_PROBE_OPERATIONS.join(', ')} verified)`;
  } else {
    const results = failed.map((op) => `${op} ${operations[op] ?? 'not run'}`).join('; ');
    const why = output.flag === 1 ? results : `FIPS mode could not be enabled (${output.setFips})`;
    detail = `OpenSSL ${openssl}: no working FIPS provider (getFips()=${output.flag} in the probe; ${why})`;
  }
  return {
    openssl,
    fipsFlag,
    fipsOperational,
    detail,
    probe: { flag: output?.flag ?? 0, operations },
  };
}

/**
 * With `SCRIP_REQUIRE_FIPS=1` (`required`), refuses to start unless the FIPS provider works.
 * Returns the status when it probed, `undefined` when FIPS is not required (no child spawned).
 *
 * @throws AppError `config_invalid` naming SCRIP_REQUIRE_FIPS.
 */
export async function assertFipsIfRequired(
  required: boolean,
  probe: () => Promise<CryptoModuleStatus> = cryptoModuleStatus,
): Promise<CryptoModuleStatus | undefined> {
  if (!required) return undefined;
  const status = await probe();
  if (!status.fipsOperational) {
    throw new AppError(
      'config_invalid',
      `SCRIP_REQUIRE_FIPS=1 but this Node.js has no working FIPS provider: ${status.detail}. Run a Node.js built against a FIPS 140-3 validated OpenSSL provider, or unset SCRIP_REQUIRE_FIPS`,
    );
  }
  return status;
}
