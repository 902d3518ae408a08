import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoTotp, type DemoSeedResult, type DemoUser } from '../../src/cli/demo-seed.js';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  });
}

interface Res {
  status: number;
  body: string;
  cookies: string[];
}

const STEP_MS = 30_000;
const sleep = (ms: number): Promise<void> =>
  new Promise((r) => {
    setTimeout(r, ms);
  });

/**
 * Issue 8 item 7, "one machine, same path": a real `scrip serve` with the one-machine network
 * (SCRIP_LOCAL_NETWORK auto on the embedded database, the `npm start` default; on explicitly on
 * an external one), `scrip demo seed`, then over the HTTP API the demo prescriber signs a
 * prescription; it travels clinic outbox → local switch → network listener → pharmacy tenant
 * over mutual TLS, the demo pharmacist sees it verified in the inbox, and the clinic's timeline
 * shows queued → sent → acknowledged. On the embedded database the seed attaches to the running
 * server; on an external one a CLI may not share the data directory with a running server, so
 * the seed runs first there (which also covers "certificates provisioned by the seed").
 */
describe('one machine, same path: scrip serve + scrip demo seed', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-local-net-'));
  chmodSync(root, 0o755);
  const dataDir = join(root, 'data');
  const out = join(root, 'demo.json');
  let server: ServeProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  let seeded: DemoSeedResult;
  let seedEnd = 0;
  let ca = '';
  let switchPort = 0;
  let netPort = 0;
  let seedOut = '';

  beforeAll(async () => {
    switchPort = await freePort();
    netPort = await freePort();
    const isolated = await isolatedEnv(dataDir, {
      SCRIP_HOST: '127.0.0.1',
      // The embedded default is what `npm start` runs: auto turns the network on by itself.
      SCRIP_LOCAL_NETWORK: inject('db').kind === 'embedded' ? 'auto' : 'on',
      SCRIP_SWITCH_PORT: String(switchPort),
      SCRIP_NETWORK_PORT: String(netPort),
      SCRIP_NETWORK_WORKER_INTERVAL_MS: '200',
      SCRIP_SWITCH_BACKOFF_BASE_MS: '200',
      SCRIP_SWITCH_BACKOFF_MAX_MS: '2000',
    });
    drop = isolated.drop;
    const seed = async (): Promise<void> => {
      const r = await runScrip(['demo', 'seed', '--out', out], isolated.env);
      expect(r.code, r.stderr).toBe(0);
      seedOut = r.stdout;
      seedEnd = Date.now();
      seeded = JSON.parse(readFileSync(out, 'utf8')) as DemoSeedResult;
    };
    if (inject('db').kind === 'embedded') {
      server = await startServe(isolated.env);
      await seed();
    } else {
      await seed();
      server = await startServe(isolated.env);
    }
    ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
  }, 300_000);
  afterAll(async () => {
    await server?.stop('SIGTERM');
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  const call = (
    method: string,
    path: string,
    cookies: string[] = [],
    body?: Record<string, unknown>,
  ): Promise<Res> =>
    new Promise((resolve, reject) => {
      const jar = Object.fromEntries(cookies.map((c) => c.split('=') as [string, string]));
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port: server?.port,
          method,
          path,
          ca,
          servername: 'localhost',
          headers: {
            ...(cookies.length > 0 ? { cookie: cookies.join('; ') } : {}),
            ...(jar['__Host-scrip_csrf'] !== undefined && method !== 'GET'
              ? { 'x-csrf-token': jar['__Host-scrip_csrf'] }
              : {}),
            ...(payload === undefined
              ? {}
              : {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(payload),
                }),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            const set = res.headers['set-cookie'] ?? [];
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              cookies: set.map((c) => c.split(';')[0] ?? ''),
            });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  /** A TOTP code for a step after `last` (replay protection), waiting until it is in the window. */
  const lastStep = new Map<string, number>();
  const freshCode = async (u: DemoUser): Promise<string> => {
    // The seed used the prescriber's codes up to the step after the seed's own step.
    const last = lastStep.get(u.userId) ?? Math.floor(seedEnd / STEP_MS) + 1;
    const next = last + 1;
    while (Math.floor(Date.now() / STEP_MS) < next - 1) await sleep(500);
    lastStep.set(u.userId, next);
    return demoTotp(u.totpSecret, next * STEP_MS);
  };
  const login = async (u: DemoUser): Promise<string[]> => {
    const res = await call('POST', '/api/v1/auth/login', [], {
      email: u.email,
      password: u.password,
      totp: await freshCode(u),
    });
    expect(res.status, res.body).toBe(200);
    return res.cookies;
  };

  it('serve logs the local network; the seed connects both tenants', () => {
    expect(server?.stdout()).toContain(
      `Local network: switch https://127.0.0.1:${String(switchPort)}/ncpdp/script, listener https://127.0.0.1:${String(netPort)}/ncpdp/script`,
    );
    expect(seeded.network?.switchUrl).toBe(`https://127.0.0.1:${String(switchPort)}/ncpdp/script`);
    expect(seedOut).toContain('Demo network:');
  });

  it('a prescription signed over HTTP reaches the pharmacy inbox verified, and is acknowledged', async () => {
    const prescriber = seeded.users.find((u) => u.userId === seeded.prescriber.userId);
    const pharmacyId = seeded.tenants.find((t) => t.kind === 'pharmacy')?.id;
    const pharmacist = seeded.users.find(
      (u) => u.tenantId === pharmacyId && u.role === 'pharmacist',
    );
    if (prescriber === undefined || pharmacist === undefined) throw new Error('demo users');
    const doc = await login(prescriber);
    // Jordan (the third demo patient) prefers P:0500002.
    const patientId = seeded.patientIds[2] ?? '';
    const d = await call('POST', '/api/v1/prescriptions', doc, {
      patientId,
      rxcui: '313782',
      quantity: { value: 12, unit: 'tablet' },
      daysSupply: 3,
      sig: 'Take 1 tablet by mouth every 6 hours as needed for pain',
      refills: 0,
      substitutionAllowed: true,
      pharmacyNcpdpId: '0500002',
      practice: {
        name: 'Demo Clinic',
        line: '100 Demo Plaza',
        city: 'Sacramento',
        state: 'CA',
        postalCode: '95814',
      },
    });
    expect(d.status, d.body).toBe(201);
    const id = (JSON.parse(d.body) as { id: string }).id;
    const ready = await call('POST', `/api/v1/prescriptions/${id}/ready`, doc, {});
    expect(ready.status, ready.body).toBe(200);
    const step = await call('POST', '/api/v1/auth/step-up', doc, {
      action: 'rx.sign',
      totp: await freshCode(prescriber),
    });
    expect(step.status, step.body).toBe(200);
    const signed = await call('POST', `/api/v1/prescriptions/${id}/sign`, doc);
    expect(signed.status, signed.body).toBe(200);

    // The clinic's timeline: queued → sent (by the switch) → acknowledged (by the pharmacy).
    let events: string[] = [];
    for (let i = 0; i < 120 && !events.includes('acknowledged'); i++) {
      await sleep(500);
      const t = await call('GET', `/api/v1/prescriptions/${id}/delivery`, doc);
      expect(t.status, t.body).toBe(200);
      events = (JSON.parse(t.body) as { events: { event: string }[] }).events.map((e) => e.event);
    }
    expect(events.slice(0, 3), server?.output()).toEqual(['queued', 'sent', 'acknowledged']);

    const ph = await login(pharmacist);
    const inbox = await call('GET', '/api/v1/pharmacy/inbox', ph);
    expect(inbox.status, inbox.body).toBe(200);
    const items = (
      JSON.parse(inbox.body) as {
        items: {
          signatureStatus: string;
          pharmacy: { ncpdpId: string };
          patient: { lastName: string } | null;
        }[];
      }
    ).items;
    const mine = items.filter((x) => x.patient?.lastName === 'Demo-Nakamura');
    expect(mine, inbox.body).toHaveLength(1);
    expect(mine[0]?.signatureStatus).toBe('verified');
    expect(mine[0]?.pharmacy.ncpdpId).toBe('0500002');
    // The seed's own signed prescription (to P:0500001) made the same trip.
    expect(items.some((x) => x.patient?.lastName === 'Demo-Rivera')).toBe(true);
  }, 240_000);
});
