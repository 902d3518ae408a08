import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';
import { PASSWORD } from './harness.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  cookie: string;
}

/** One HTTPS JSON request to the real server, trusted through its local CA. */
function call(
  port: number,
  ca: string,
  method: 'GET' | 'POST',
  path: string,
  payload?: Record<string, unknown>,
  cookie?: string,
): Promise<Answer> {
  const data = payload === undefined ? undefined : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: 'localhost',
        port,
        path,
        ca,
        method,
        headers: {
          ...(data === undefined ? {} : { 'content-type': 'application/json' }),
          ...(cookie === undefined ? {} : { cookie }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const raw = res.headers['set-cookie'] ?? [];
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
            cookie: raw.map((c) => c.split(';')[0]).join('; '),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const LINK = /^\s*https:\/\/localhost:\d+\/bootstrap#([A-Za-z0-9_-]{20,})\s*$/m;
const INVITE = /^https:\/\/localhost:\d+\/invite#([A-Za-z0-9_-]{20,}) {2}\(single use, expires /m;

describe('first run and invitations from the command line (real processes)', () => {
  const parent = mkdtempSync(join(tmpdir(), 'scrip-onboard-'));
  chmodSync(parent, 0o755);
  const dataDir = join(parent, 'data');
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void>;
  let server: ServeProcess | undefined;

  beforeAll(async () => {
    ({ env, drop } = await isolatedEnv(dataDir));
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await drop();
    rmSync(parent, { recursive: true, force: true });
  });

  async function waitFor(re: RegExp, s: ServeProcess): Promise<RegExpExecArray | null> {
    for (let i = 0; i < 100; i++) {
      const m = re.exec(s.stdout());
      if (m !== null) return m;
      await sleep(100);
    }
    return null;
  }

  async function accept(port: number, ca: string, token: string, email: string) {
    return call(port, ca, 'POST', '/api/v1/auth/invitations/accept', {
      token,
      email,
      password: PASSWORD,
      displayName: 'Nia Newcomer',
    });
  }

  it('serve prints the bootstrap link once on an empty database; CLI invitations are accepted once', async () => {
    const first = await startServe(env);
    server = first;
    const m = await waitFor(LINK, first);
    expect(m, first.output()).not.toBeNull();
    const token = m?.[1] ?? '';
    // Once, on stdout only, and only in the URL fragment (no log line carries it).
    expect(first.stdout().split(token)).toHaveLength(2);
    expect(first.output().split(token)).toHaveLength(2);
    expect(first.stdout()).toMatch(/No users yet\. Create the first administrator/);
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
    const boot = await call(first.port, ca, 'POST', '/api/v1/auth/bootstrap', {
      token,
      tenantName: 'First Clinic',
      email: 'ada@example.test',
      password: PASSWORD,
      displayName: 'Ada Admin',
    });
    expect(boot.status, JSON.stringify(boot.body)).toBe(200);
    expect(boot.body.status).toBe('enrolment_required');
    const tenant = String(boot.body.tenantId);
    const replay = await call(first.port, ca, 'POST', '/api/v1/auth/bootstrap', {
      token,
      tenantName: 'Second',
      email: 'eve@example.test',
      password: PASSWORD,
      displayName: 'Eve',
    });
    expect(replay.status).not.toBe(200);
    expect(await first.stop()).toBe(0);
    server = undefined;

    const invite = await runScrip(
      [
        'users',
        'invite',
        '--tenant',
        tenant,
        '--email',
        'nia@example.test',
        '--role',
        'prescriber',
      ],
      env,
    );
    expect(invite.code, invite.stderr).toBe(0);
    const inviteToken = INVITE.exec(invite.stdout)?.[1];
    expect(inviteToken, invite.stdout).toBeDefined();
    const created = await runScrip(
      ['tenants', 'create', '--name', 'Second Clinic', '--admin-email', 'sam@example.test'],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const [newTenant = '', adminLine = ''] = created.stdout.trim().split('\n');
    expect(newTenant).toMatch(/^[0-9a-f-]{36}$/);
    const adminToken = INVITE.exec(adminLine)?.[1];
    expect(adminToken, created.stdout).toBeDefined();

    // The next start finds a user: no bootstrap link.
    const second = await startServe(env);
    server = second;
    const ready = await call(second.port, ca, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    await sleep(1500);
    expect(second.output()).not.toMatch(/bootstrap#|No users yet/);

    for (const [t, email, tenantId, role] of [
      [inviteToken ?? '', 'nia@example.test', tenant, 'prescriber'],
      [adminToken ?? '', 'sam@example.test', newTenant, 'tenant_admin'],
    ] as const) {
      const ok = await accept(second.port, ca, t, email);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toMatchObject({ status: 'enrolment_required', tenantId });
      const session = await call(
        second.port,
        ca,
        'GET',
        '/api/v1/auth/session',
        undefined,
        ok.cookie,
      );
      expect(session.status, JSON.stringify(session.body)).toBe(200);
      expect(session.body).toMatchObject({ roles: [role], restricted: true });
      const again = await accept(second.port, ca, t, email);
      expect(again.status).toBe(410);
    }
  }, 240_000);
});
