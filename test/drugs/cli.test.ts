import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { drugsCommand } from '../../src/cli/drugs.command.js';
import type { Platform } from '../../src/platform.js';

/** The subcommands that need no database or operator sign-in. */
describe('scrip drugs (no database)', () => {
  const none = {} as Platform;
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('checks an interaction table file', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const file = new URL('../fixtures/interactions.csv', import.meta.url).pathname;
    expect(await drugsCommand(none, 'interactions', [file], {})).toBe(0);
    expect(out.mock.calls.map((c) => String(c[0])).join('')).toContain('4 interactions');
    const bad = join(mkdtempSync(join(tmpdir(), 'scrip-ix-')), 'bad.csv');
    writeFileSync(bad, 'ingredient_a_rxcui,ingredient_b_rxcui,severity,description\n1,2,awful,x\n');
    await expect(drugsCommand(none, 'interactions', [bad], {})).rejects.toThrow(
      /bad\.csv line 2: severity/,
    );
  });

  it('refuses a missing tenant or directory before signing anyone in', async () => {
    await expect(drugsCommand(none, 'import', [], {})).rejects.toThrow(/usage/);
    await expect(drugsCommand(none, 'import', ['/tmp/x'], { tenant: 'nope' })).rejects.toThrow(
      /--tenant/,
    );
    await expect(
      drugsCommand(none, 'import', ['/tmp/x'], {
        tenant: '6f1c1f7e-2f0e-4d4e-9c1e-0a0b0c0d0e0f',
        effective: 'someday',
      }),
    ).rejects.toThrow(/--effective/);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await drugsCommand(none, 'frobnicate', [], {})).toBe(2);
  });
});
