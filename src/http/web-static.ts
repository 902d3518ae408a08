import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The built web app (web/, built by Vite into dist/web), served from the API's own origin.
 *
 * Every file is read into memory once at start: a request never touches the file system, so no
 * path can escape the folder and no directory is ever listed. Hashed files under /assets/ are
 * cached for a year (their name changes with their content); everything else, index.html
 * included, is not cached. Any other GET for a path outside the API prefixes that has no file
 * extension is a client-side route and gets index.html (the app reads its opaque ids from the
 * path; it never puts PHI in a URL).
 */
export interface WebAssets {
  readonly files: ReadonlyMap<string, WebFile>;
  readonly index: WebFile;
}

export interface WebFile {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
};

/** Paths the app never answers with a page: the API, FHIR, well-known files and probes. */
const RESERVED = ['/api/', '/fhir/', '/.well-known/'];
const RESERVED_EXACT = new Set(['/api', '/fhir', '/healthz', '/readyz', '/metrics']);

/** Loads the built app from `dir`; undefined when it has not been built (no index.html). */
export function loadWebAssets(dir: string): WebAssets | undefined {
  let indexBody: Buffer;
  try {
    indexBody = readFileSync(join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  const files = new Map<string, WebFile>();
  const walk = (abs: string, url: string): void => {
    for (const name of readdirSync(abs)) {
      if (name.startsWith('.')) continue;
      const full = join(abs, name);
      const st = statSync(full);
      if (st.isDirectory()) {
        walk(full, `${url}${name}/`);
        continue;
      }
      const type = TYPES[extname(name).toLowerCase()];
      if (!st.isFile() || type === undefined) continue;
      const path = `${url}${name}`;
      files.set(path, {
        body: readFileSync(full),
        type,
        immutable: path.startsWith('/assets/'),
      });
    }
  };
  walk(dir, '/');
  const index: WebFile = { body: indexBody, type: TYPES['.html'] ?? 'text/html', immutable: false };
  files.delete('/index.html');
  return { files, index };
}

/** Which request the web app answers: GET or HEAD outside the reserved API prefixes. */
export function isWebRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = pathOf(request.url);
  if (RESERVED_EXACT.has(path)) return false;
  return !RESERVED.some((p) => path.startsWith(p));
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Answers a web request from the loaded files, or returns undefined (the caller sends the usual
 * 404 problem): a known file, or index.html for a client route (a path with no extension outside
 * /assets/).
 */
export function sendWebAsset(
  assets: WebAssets,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply | undefined {
  const path = pathOf(request.url);
  const file = assets.files.get(path);
  if (file !== undefined) {
    void reply.header(
      'Cache-Control',
      file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    return reply
      .code(200)
      .type(file.type)
      .send(request.method === 'HEAD' ? '' : file.body);
  }
  if (path === '/assets' || path.startsWith('/assets/')) return undefined;
  if (extname(path) !== '' || path.includes('//')) return undefined;
  void reply.header('Cache-Control', 'no-store');
  return reply
    .code(200)
    .type(assets.index.type)
    .send(request.method === 'HEAD' ? '' : assets.index.body);
}
