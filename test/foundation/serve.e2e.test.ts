import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';

const execFileP = promisify(execFile);

function get(
  port: number,
  path: string,
  ca: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: 'localhost', port, path, ca, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function handshake(
  port: number,
  ca: string,
  opts: { min: SecureVersion; max: SecureVersion; ciphers?: string },
): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        ca,
        minVersion: opts.min,
        maxVersion: opts.max,
        ...(opts.ciphers === undefined ? {} : { ciphers: opts.ciphers }),
      },
      () => {
        const got = `${socket.getProtocol() ?? '?'} ${socket.getCipher().name}`;
        socket.end();
        resolve(got);
      },
    );
    socket.on('error', () => {
      resolve('refused');
    });
  });
}

function postgresRunningOn(dir: string): boolean {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('postgres') && cmd.includes(join(dir, 'pg'));
      } catch {
        return false;
      }
    });
}

describe('scrip serve (real process)', () => {
  const parent = mkdtempSync(join(tmpdir(), 'scrip-serve-'));
  chmodSync(parent, 0o755); // like a checkout folder: the database user may traverse it
  const dataDir = join(parent, 'data');
  let server: ServeProcess;
  let ca: string;
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ env, drop } = await isolatedEnv(dataDir));
    server = await startServe(env);
    ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
  }, 180_000);
  afterAll(async () => {
    await server.stop('SIGKILL');
    await drop();
    rmSync(parent, { recursive: true, force: true });
  });

  it('creates a private ./data with the local CA and prints the CA path', () => {
    expect(server.output()).toContain(join(dataDir, 'tls', 'ca.pem'));
    const mode = statSync(dataDir).mode & 0o777;
    expect([0o700, 0o710]).toContain(mode);
    for (const f of ['ca-key.pem', 'server-key.pem'])
      expect(statSync(join(dataDir, 'tls', f)).mode & 0o077).toBe(0);
    if (inject('db').kind === 'embedded') {
      expect(statSync(join(dataDir, 'db-credentials.json')).mode & 0o077).toBe(0);
      expect(statSync(join(dataDir, 'pg')).mode & 0o077).toBe(0);
    }
  });

  it('serves /healthz over HTTPS trusted through the local CA, and 404 as problem+json', async () => {
    const health = await get(server.port, '/healthz', ca);
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const missing = await get(server.port, '/api/v1/definitely-not-here', ca);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.headers['x-request-id']).toBeTruthy();
    // Outside the API, a path is a client route of the web app (docs/web.md).
    const page = await get(server.port, '/definitely-not-here', ca);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await get(server.port, '/readyz', ca)).status).toBe(200);
  });

  it('speaks TLS 1.3 and 1.2 (ECDHE + AEAD only), nothing older and no CBC', async () => {
    expect(await handshake(server.port, ca, { min: 'TLSv1.3', max: 'TLSv1.3' })).toMatch(
      /^TLSv1\.3 TLS_/,
    );
    expect(await handshake(server.port, ca, { min: 'TLSv1.2', max: 'TLSv1.2' })).toMatch(
      /^TLSv1\.2 ECDHE-ECDSA-(AES\d+-GCM|CHACHA20)/,
    );
    expect(
      await handshake(server.port, ca, {
        min: 'TLSv1',
        max: 'TLSv1.1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      }),
    ).toBe('refused');
    expect(
      await handshake(server.port, ca, {
        min: 'TLSv1.2',
        max: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:AES128-GCM-SHA256',
      }),
    ).toBe('refused');
  });

  it('testssl.sh finds no old protocol, no obsolete (CBC) cipher and no LUCKY13', async () => {
    const out = join(parent, 'testssl.json');
    await execFileP(
      'testssl',
      [
        '--quiet',
        '--color',
        '0',
        '--warnings',
        'off',
        '--jsonfile-pretty',
        out,
        '--protocols',
        '--std',
        '--lucky13',
        '--beast',
        '--poodle',
        `127.0.0.1:${String(server.port)}`,
      ],
      { timeout: 240_000 },
    ).catch((err: unknown) => {
      // testssl exits non-zero when it has findings; the JSON below is what is judged.
      if ((err as { code?: unknown }).code === 'ENOENT')
        throw new Error('testssl.sh is not installed (apt-get install testssl.sh)');
    });
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      scanResult: { protocols: F[]; ciphers: F[]; vulnerabilities: F[] }[];
    };
    interface F {
      id: string;
      severity: string;
      finding: string;
    }
    const scan = report.scanResult[0]!;
    const byId = (id: string): F | undefined =>
      [...scan.protocols, ...scan.ciphers, ...scan.vulnerabilities].find((f) => f.id === id);
    expect(byId('SSLv2')?.finding).toBe('not offered');
    expect(byId('SSLv3')?.finding).toBe('not offered');
    expect(byId('TLS1')?.finding).toBe('not offered');
    expect(byId('TLS1_1')?.finding).toBe('not offered');
    expect(byId('TLS1_3')?.finding).toMatch(/^offered/);
    expect(byId('cipherlist_AVERAGE')?.finding).toBe('not offered'); // "Obsolete CBC ciphers"
    expect(byId('LUCKY13')?.severity).toBe('OK');
    expect(byId('BEAST')?.severity).toBe('OK');
    const bad = [...scan.protocols, ...scan.ciphers, ...scan.vulnerabilities].filter((f) =>
      ['MEDIUM', 'HIGH', 'CRITICAL'].includes(f.severity),
    );
    expect(bad).toEqual([]);
  }, 300_000);

  it('refuses a second scrip serve on the same ./data with a clear message', async () => {
    const second = await runScrip(['serve'], env);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/another scrip serve \(pid \d+\) is already using/);
  });

  it('stops cleanly on SIGINT (embedded database stopped, lock released) and restarts on the same ./data', async () => {
    const caBefore = ca;
    expect(await server.stop('SIGINT')).toBe(0);
    expect(server.output()).toContain('stopped');
    expect(postgresRunningOn(dataDir)).toBe(false);
    server = await startServe(env);
    expect(readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8')).toBe(caBefore);
    if (inject('db').kind === 'embedded')
      expect(server.output()).toContain('embedded PostgreSQL started');
    expect(server.output()).not.toContain('initialised');
    expect((await get(server.port, '/readyz', ca)).status).toBe(200);
  }, 180_000);

  it('recovers after being killed with SIGKILL (stale lock, orphaned database)', async () => {
    expect(await server.stop('SIGKILL')).toBe(null);
    server = await startServe(env);
    expect((await get(server.port, '/healthz', ca)).status).toBe(200);
  }, 180_000);

  it('lets an in-flight request finish during graceful shutdown', async () => {
    const pending = new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: 'localhost',
          port: server.port,
          path: '/api/v1/whoami',
          method: 'POST',
          ca,
          headers: { 'content-type': 'application/json', 'content-length': '2' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
        },
      );
      req.on('error', reject);
      req.write('{'); // half a body: the request is in flight
      setTimeout(() => {
        void server.stop('SIGTERM');
        setTimeout(() => req.end('}'), 300);
      }, 300);
    });
    expect(await pending).toBe(404);
  }, 60_000);
});

describe('scrip CLI', () => {
  it('scrip config masks secrets; a bad value names the key', async () => {
    const env = {
      PATH: process.env.PATH,
      SCRIP_DB_APP_PASSWORD: 'very-secret-pw',
      DATABASE_URL: 'postgres://o:pw-in-url@db/x',
    };
    const ok = await runScrip(['config'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('very-secret-pw');
    expect(ok.stdout).not.toContain('pw-in-url');
    const bad = await runScrip(['config'], { PATH: process.env.PATH, SCRIP_PORT: 'abc' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('SCRIP_PORT');
  });

  it('scrip routes prints every route with its permission', async () => {
    const res = await runScrip(['routes', '--json'], { PATH: process.env.PATH });
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.stdout) as Record<string, string>[];
    expect(rows).toContainEqual({
      method: 'GET',
      url: '/healthz',
      permission: 'public',
      stepUp: '',
      roles: 'anyone',
    });
    expect(rows).toContainEqual({
      method: 'GET',
      url: '/api/v1/whoami',
      permission: 'authenticated',
      stepUp: '',
      roles: 'signed-in',
    });
    // The matrix: which built-in roles reach a route, and its step-up.
    expect(rows).toContainEqual({
      method: 'PUT',
      url: '/api/v1/access/context-policy',
      permission: 'access.policy',
      stepUp: 'access.policy.change',
      roles: 'security_admin',
    });
  });
});
