/**
 * The web app served by the API's own process (src/http/web-static.ts): files from memory with
 * their content types and cache headers, the SPA fallback for client routes, the CSP on every
 * page, no directory listing, no escape from the folder, and the API's own 404s unchanged.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/index.js';
import { CONTENT_SECURITY_POLICY } from '../../src/http/security-headers.js';
import { loadWebAssets } from '../../src/http/web-static.js';
import { buildTestApp } from '../app.js';

const INDEX =
  '<!doctype html><title>Scrip</title><script type="module" src="/assets/app-abc123.js"></script>';

describe('the web app served by scrip serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scrip-web-static-'));
  let app: FastifyInstance;
  const db = new Database(new pg.Pool({ max: 1 }));

  beforeAll(async () => {
    mkdirSync(join(dir, 'assets', 'nested'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log(1);');
    writeFileSync(join(dir, 'assets', 'app-abc123.css'), 'body{}');
    writeFileSync(join(dir, 'assets', 'nested', 'x.svg'), '<svg/>');
    writeFileSync(join(dir, 'assets', 'notes.unknownext'), 'secret');
    writeFileSync(join(dir, '.hidden.js'), 'hidden');
    writeFileSync(join(dir, 'robots.txt'), 'User-agent: *\nDisallow: /\n');
    const web = loadWebAssets(dir);
    expect(web).toBeDefined();
    ({ app } = await buildTestApp(db, web === undefined ? {} : { web }));
  });

  afterAll(async () => {
    await app.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') => app.inject({ method, url });

  it('is absent when the app is not built', () => {
    expect(loadWebAssets(join(dir, 'missing'))).toBeUndefined();
  });

  it('answers / and client routes with index.html, uncached, under the CSP', async () => {
    for (const url of [
      '/',
      '/patients/0b6c0f2e-1111-4a4a-9b9b-000000000001',
      '/account',
      '/rx/x/',
      // The SSO redirect URI, with the IdP's answer in the query.
      '/sso/callback?code=abc&state=def&iss=https%3A%2F%2Fidp.example.org',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toBe(INDEX);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      // code and state never travel on in a Referer header.
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
    const head = await get('/account', 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });

  it('has the strict policy: self only, no inline or eval, data: images only', () => {
    const csp = CONTENT_SECURITY_POLICY;
    for (const d of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "object-src 'none'",
    ]) {
      expect(csp).toContain(d);
    }
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
  });

  it('serves hashed assets with their type and a long immutable cache', async () => {
    const js = await get('/assets/app-abc123.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    const css = await get('/assets/app-abc123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const svg = await get('/assets/nested/x.svg');
    expect(svg.headers['content-type']).toBe('image/svg+xml');
    const robots = await get('/robots.txt');
    expect(robots.statusCode).toBe(200);
    expect(robots.headers['cache-control']).toBe('no-cache');
  });

  it('lists no directory, serves no unknown or hidden file, and never falls back for assets', async () => {
    for (const url of [
      '/assets/',
      '/assets',
      '/assets/nested/',
      '/assets/missing-123.js',
      '/assets/notes.unknownext',
      '/.hidden.js',
      '/index.html',
      '/missing.js',
      '/assets/../index.html',
      '/assets/%2e%2e/index.html',
      '/..%2f..%2fetc%2fpasswd',
      '//etc/passwd',
    ]) {
      const res = await get(url);
      if (res.statusCode === 200) {
        // Only ever the app page itself, never a listing or a file outside the folder.
        expect(res.body, url).toBe(INDEX);
        expect(url).not.toMatch(/^\/assets/);
      } else {
        expect(res.statusCode, url).toBe(404);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    expect((await get('/assets/')).statusCode).toBe(404);
  });

  it('leaves the API, FHIR and probes alone: their unknown paths stay problem 404s', async () => {
    for (const url of ['/api/v1/nope', '/api/nope', '/api', '/fhir/R4/Nope', '/.well-known/nope']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const post = await get('/account', 'POST');
    expect(post.statusCode).toBe(404);
    const health = await get('/healthz');
    expect(health.headers['content-type']).toMatch(/^application\/json/);
  });
});
