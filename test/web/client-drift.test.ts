/**
 * The web client's route list (web/src/api/endpoints.ts) against the server's route table
 * (`scrip routes --json`): a route the app calls that the server no longer has, or with another
 * method, fails here rather than in a user's browser.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENDPOINTS, PENDING_ENDPOINTS } from '../../web/src/api/endpoints.js';
import { runScrip } from '../serve-process.js';

interface RouteRow {
  readonly method: string;
  readonly url: string;
  readonly permission: string;
}

describe('the web client matches the server routes', () => {
  it('every endpoint the app calls exists with that method', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-routes-'));
    try {
      const out = await runScrip(['routes', '--json'], {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SCRIP_DATA_DIR: dir,
      });
      expect(out.code, out.stderr).toBe(0);
      const rows = JSON.parse(out.stdout) as RouteRow[];
      const server = new Set(rows.map((r) => `${r.method} ${r.url}`));
      const missing = Object.entries(ENDPOINTS)
        .map(([name, [method, url]]) => ({ name, route: `${method} ${url}` }))
        .filter((e) => !server.has(e.route));
      expect(missing).toEqual([]);
      // A route still pending elsewhere must not clash with another method of the same path.
      for (const [method, url] of Object.values(PENDING_ENDPOINTS)) {
        const other = rows.filter((r) => r.url === url && r.method !== method);
        expect(other).toEqual([]);
      }
      // And the check can fail: a made-up route is not in the table.
      expect(server.has('GET /api/v1/no-such-route')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
