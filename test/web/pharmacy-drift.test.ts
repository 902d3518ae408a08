/**
 * The pharmacist screens' route list (web/src/api/pharmacy-endpoints.ts) against the server's
 * route table (`scrip routes --json`), like console-drift.test.ts: a route the screens call that
 * the server does not have with that method, or that the pharmacist's role cannot reach, fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_CATALOG } from '../../src/access/role-catalog.js';
import { PHARMACY_ENDPOINTS } from '../../web/src/api/pharmacy-endpoints.js';
import { runScrip } from '../serve-process.js';

interface RouteRow {
  readonly method: string;
  readonly url: string;
  readonly permission: string;
}

describe('the pharmacist screens match the server routes', () => {
  it('every endpoint they call exists with that method, and a pharmacist may call it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-routes-'));
    try {
      const out = await runScrip(['routes', '--json'], {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SCRIP_DATA_DIR: dir,
      });
      expect(out.code, out.stderr).toBe(0);
      const rows = JSON.parse(out.stdout) as RouteRow[];
      const server = new Map(rows.map((r) => [`${r.method} ${r.url}`, r.permission]));
      const entries = Object.entries(PHARMACY_ENDPOINTS).map(([name, [method, url]]) => ({
        name,
        route: `${method} ${url}`,
      }));
      expect(entries.filter((e) => !server.has(e.route))).toEqual([]);
      const pharmacist = BUILT_IN_CATALOG.pharmacist as readonly string[];
      const technician = BUILT_IN_CATALOG.pharmacy_technician as readonly string[];
      for (const e of entries) {
        expect(pharmacist, e.route).toContain(server.get(e.route));
      }
      // The technician reads the inbox but reaches no action (the screens hide the buttons).
      expect(technician).toContain(server.get('GET /api/v1/pharmacy/inbox'));
      expect(technician).not.toContain(server.get('POST /api/v1/pharmacy/inbox/:id/accept'));
      // The check can fail: a made-up route is not in the table.
      expect(server.has('POST /api/v1/pharmacy/inbox/:id/no-such-verb')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
