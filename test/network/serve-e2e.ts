import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
import { decodeBase32Strict, totp } from '../../src/identity/index.js';
import { runScrip, type ServeProcess } from '../serve-process.js';

/** Helpers for tests that drive real `scrip serve` processes over their HTTPS API. */

/** A `scrip serve` HTTPS API: its port and the data directory's local CA (tls/ca.pem). */
export interface Api {
  readonly port: number;
  readonly ca: string;
}

/** The API (the network listener's log line also says "listening on"). */
export function apiOf(p: ServeProcess, dataDir: string): Api {
  const m = /Scrip is listening on https:\/\/[^\s:]+:(\d+)/.exec(p.stdout());
  if (m?.[1] === undefined) throw new Error(`no API address:\n${p.output()}`);
  return { port: Number(m[1]), ca: readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8') };
}

export function httpsCall(
  api: Api,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; setCookie: string[]; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: 'localhost',
        port: api.port,
        path,
        method,
        ca: api.ca,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            setCookie: res.headers['set-cookie'] ?? [],
            text,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function freePort(): Promise<number> {
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

export interface SeedUser {
  tenantId: string;
  role: string;
  email: string;
  password: string;
  totpSecret: string;
  userId: string;
}
export interface Seed {
  tenants: { id: string; kind: string }[];
  users: SeedUser[];
  prescriber: { userId: string };
  patientIds: string[];
  prescriptions: { id: string; patientId: string; status: string; drug: string }[];
}

/** TOTP codes as an authenticator app gives them, never reusing a time step (replay refused). */
export class Authenticator {
  readonly #last = new Map<string, number>();
  constructor(private readonly floorStep: number) {}
  async code(secret: string): Promise<string> {
    const bytes = decodeBase32Strict(secret);
    if (bytes === undefined) throw new TypeError('bad TOTP secret');
    const now = (): number => Math.floor(Date.now() / 30_000);
    const step = Math.max((this.#last.get(secret) ?? this.floorStep) + 1, now());
    // A code of the next step is accepted (one step of drift); further ahead, wait.
    while (step > now() + 1) await new Promise((r) => setTimeout(r, 250));
    this.#last.set(secret, step);
    return totp(bytes, step * 30_000);
  }
}

/**
 * Puts a pharmacy directory file in force in the demo clinic the way an operator does: the
 * clinic's compliance officer proposes it (`scrip pharmacies import`), its pharmacist approves the
 * routing change (`scrip drugs approve`), each signing in with password and TOTP on stdin.
 */
export async function importDirectory(
  env: NodeJS.ProcessEnv,
  seed: Seed,
  file: string,
  auth: Authenticator,
): Promise<void> {
  const tenant = seed.tenants.find((t) => t.kind === 'clinic')?.id ?? '';
  const operator = async (role: string, args: string[]): Promise<string> => {
    const u = seed.users.find((x) => x.role === role && x.tenantId === tenant);
    if (u === undefined) throw new Error(`no ${role} in the demo clinic`);
    const r = await runScrip(
      [...args, '--tenant', tenant, '--actor', u.email],
      env,
      `${u.password}\n${await auth.code(u.totpSecret)}\n`,
    );
    expect(r.code, `scrip ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const proposed = await operator('compliance_officer', ['pharmacies', 'import', file]);
  const id = /Proposal ([0-9a-f-]{36})/.exec(proposed)?.[1];
  expect(id, proposed).toBeDefined();
  await operator('pharmacist', ['drugs', 'approve', id ?? '']);
}

/** A browser session against one `scrip serve` (cookies and the CSRF header by hand). */
export class Session {
  #cookie = '';
  #csrf = '';
  constructor(private readonly base: Api) {}

  static async open(base: Api, email: string, password: string, code: string): Promise<Session> {
    const s = new Session(base);
    const r = await s.call('POST', '/api/v1/auth/login', { email, password, totp: code });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return s;
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const res = await httpsCall(
      this.base,
      method,
      path,
      {
        ...(this.#cookie === '' ? {} : { cookie: this.#cookie, 'x-csrf-token': this.#csrf }),
      },
      body,
    );
    const set = res.setCookie;
    if (set.length > 0) {
      const jar = new Map(
        this.#cookie
          .split('; ')
          .filter((c) => c !== '')
          .map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)] as const),
      );
      for (const line of set) {
        const pair = line.split(';')[0] ?? '';
        jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
      }
      this.#cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      this.#csrf = jar.get('__Host-scrip_csrf') ?? '';
    }
    const text = res.text;
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  async ok<T>(method: string, path: string, body?: unknown, status = [200, 201]): Promise<T> {
    const r = await this.call(method, path, body);
    expect(status, `${method} ${path}: ${String(r.status)} ${JSON.stringify(r.body)}`).toContain(
      r.status,
    );
    return r.body as T;
  }
}

/** Vendor, signed BAA and an enabled `pharmacy_network` integration for `ref` (the send gate). */
export async function enableNetwork(officer: Session, ref: string): Promise<void> {
  const vendor = await officer.ok<{ id: string }>('POST', '/api/v1/compliance/vendors', {
    name: 'E2E Rx Switch',
    services: 'Pharmacy network switch',
    contact: 'security@switch.example',
    riskRating: 'high',
    phiAccess: true,
  });
  await officer.ok('POST', '/api/v1/compliance/baas', {
    vendorId: vendor.id,
    parties: ['E2E Tenant', 'E2E Rx Switch'],
    effectiveDate: '2026-01-01',
    expiryDate: null,
    permittedUses: 'Prescription routing',
    breachNoticeDays: 10,
    subcontractorFlowDown: true,
    auditRights: true,
    returnDestruction: 'Return or destroy within 30 days',
    document: {
      contentBase64: Buffer.from('%PDF-1.7 signed BAA').toString('base64'),
      mediaType: 'application/pdf',
    },
  });
  const integration = await officer.ok<{ id: string }>('POST', '/api/v1/compliance/integrations', {
    kind: 'pharmacy_network',
    name: 'E2E switch',
    ref,
    vendorId: vendor.id,
    sendsPhi: true,
  });
  await officer.ok('POST', `/api/v1/compliance/integrations/${integration.id}/enable`, {});
}
