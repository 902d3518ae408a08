import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, startServe, type ServeProcess } from '../serve-process.js';

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

function httpGet(
  port: number,
  path: string,
  host = '127.0.0.1',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('scrip serve behind a TLS-terminating proxy, with metrics', () => {
  const parent = mkdtempSync(join(tmpdir(), 'scrip-proxy-'));
  chmodSync(parent, 0o755);
  let server: ServeProcess;
  let metricsPort: number;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    metricsPort = await freePort();
    const isolated = await isolatedEnv(join(parent, 'data'), {
      SCRIP_INSECURE_HTTP: 'true',
      SCRIP_METRICS_PORT: String(metricsPort),
    });
    drop = isolated.drop;
    server = await startServe(isolated.env);
  }, 180_000);
  afterAll(async () => {
    await server.stop('SIGTERM');
    await drop();
    rmSync(parent, { recursive: true, force: true });
  });

  it('serves plain HTTP only when explicitly asked, and warns about it', async () => {
    expect(server.output()).toMatch(/SCRIP_INSECURE_HTTP is set/);
    const res = await httpGet(server.port, '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBeDefined(); // the proxy serves HTTPS
  });

  it('exposes Prometheus metrics on loopback with route templates, never URLs', async () => {
    await httpGet(server.port, '/api/v1/patients/Jane-Doe-1961'); // a route: its template
    await httpGet(server.port, '/api/v1/no-such-thing/Jane-Doe-1961'); // no route: unmatched
    const res = await httpGet(metricsPort, '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toMatch(
      /scrip_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
    expect(res.body).toContain('route="unmatched"');
    expect(res.body).toContain('route="/api/v1/patients/:id"');
    expect(res.body).not.toContain('Jane');
    expect(res.body).toMatch(/scrip_db_clock_skew_ms -?\d/);
    expect((await httpGet(metricsPort, '/other')).status).toBe(404);
  });
});
