/**
 * The compliance and administration consoles' route list (web/src/api/console-endpoints.ts)
 * against the server's route table (`scrip routes --json`), like client-drift.test.ts does for
 * the rest of the app: a route the consoles call that the server does not have with that method
 * fails here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONSOLE_ENDPOINTS } from '../../web/src/api/console-endpoints.js';
import { runScrip } from '../serve-process.js';

interface RouteRow {
  readonly method: string;
  readonly url: string;
  readonly permission: string;
}

describe('the consoles match the server routes', () => {
  it('every endpoint the consoles call exists with that method', async () => {
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
      const missing = Object.entries(CONSOLE_ENDPOINTS)
        .map(([name, [method, url]]) => ({ name, route: `${method} ${url}` }))
        .filter((e) => !server.has(e.route));
      expect(missing).toEqual([]);
      expect(Object.keys(CONSOLE_ENDPOINTS).length).toBeGreaterThan(40);
      // The check can fail: a made-up route is not in the table.
      expect(server.has('POST /api/v1/alerts/:id/no-such-verb')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
