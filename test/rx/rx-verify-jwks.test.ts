import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadJwks, rxCommand } from '../../src/cli/rx.command.js';

/** `scrip rx verify --jwks`: a file or an https:// URL; plain http:// is refused unfetched. */
describe('scrip rx verify: where the JWKS may come from', () => {
  let server: Server;
  let requests = 0;
  let port = 0;
  const jwks = JSON.stringify({ keys: [] });

  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses http:// (and other schemes) before fetching anything', async () => {
    for (const url of [
      `http://127.0.0.1:${String(port)}/.well-known/jwks.json`,
      `HTTP://127.0.0.1:${String(port)}/.well-known/jwks.json`,
      'ftp://127.0.0.1/jwks.json',
      'file:///etc/jwks.json',
    ]) {
      await expect(loadJwks(url), url).rejects.toMatchObject({
        code: 'validation_failed',
        detail: 'jwks',
      });
    }
    expect(requests).toBe(0);

    const dir = mkdtempSync(join(tmpdir(), 'scrip-rx-'));
    writeFileSync(join(dir, 'rx.jws'), 'a.b.c');
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const code = await rxCommand('verify', [join(dir, 'rx.jws')], {
        jwks: `http://127.0.0.1:${String(port)}/.well-known/jwks.json`,
      });
      expect(code).toBe(1);
      expect(String(out.mock.calls[0]?.[0])).toContain('"valid": false');
    } finally {
      out.mockRestore();
    }
    expect(requests).toBe(0);
  });

  it('fetches https:// (an unreachable one is a verification failure, not a crash) and reads files', async () => {
    await expect(loadJwks('https://127.0.0.1:1/.well-known/jwks.json')).rejects.toMatchObject({
      code: 'unavailable',
    });
    const dir = mkdtempSync(join(tmpdir(), 'scrip-rx-'));
    writeFileSync(join(dir, 'jwks.json'), jwks);
    expect(await loadJwks(join(dir, 'jwks.json'))).toEqual({ keys: [] });
    writeFileSync(join(dir, 'bad.json'), 'not json');
    await expect(loadJwks(join(dir, 'bad.json'))).rejects.toMatchObject({ detail: 'jwks' });
  });
});
