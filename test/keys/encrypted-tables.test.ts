import { describe, expect, it } from 'vitest';
import { ENCRYPTED_TABLES } from '../../src/platform.js';
import { ownerClient } from '../db.js';

/**
 * Every table holding field-cipher columns must carry `dek_version` and the database check that
 * refuses writes under a destroyed data key; otherwise rotation and shredding would miss it.
 */
describe('encrypted tables', () => {
  it('each has dek_version, bytea sealed columns and the data-key trigger', async () => {
    const c = await ownerClient();
    try {
      for (const spec of ENCRYPTED_TABLES) {
        const cols = await c.query<{ column_name: string; data_type: string }>(
          `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`,
          [spec.table],
        );
        const types = new Map(cols.rows.map((r) => [r.column_name, r.data_type]));
        expect(types.get('dek_version'), spec.table).toBe('integer');
        for (const col of spec.columns)
          expect(types.get(col), `${spec.table}.${col}`).toBe('bytea');
        const trig = await c.query(
          `SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = $1::regclass AND p.proname = 'scrip_check_data_key' AND NOT t.tgisinternal`,
          [spec.table],
        );
        expect(trig.rowCount, `${spec.table} trigger`).toBe(1);
      }
    } finally {
      await c.end();
    }
  });
});
