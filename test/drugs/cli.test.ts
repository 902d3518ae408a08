import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { drugsCommand } from '../../src/cli/drugs.command.js';
import type { Platform } from '../../src/platform.js';
import { DrugCatalogRepository } from '../../src/prescribing/drug-catalog.repository.js';
import { codeFor, PASSWORD, type Enrolled } from '../identity/harness.js';
import { drugWorld, FIXTURE, type DrugWorld } from './helpers.js';

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

/** `scrip drugs import` and `approve` against the database, signing the operators in on stdin. */
describe('scrip drugs import (database)', () => {
  let w: DrugWorld;
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
  beforeAll(async () => {
    w = await drugWorld();
  });
  afterAll(async () => {
    await w.close();
  });
  afterEach(() => {
    if (stdin !== undefined) Object.defineProperty(process, 'stdin', stdin);
  });

  /** The password and TOTP code lines the CLI reads from a pipe. */
  function typed(who: Enrolled, password = PASSWORD): void {
    w.h.clock.advance(30_000); // a fresh TOTP step: a code is accepted once
    Object.defineProperty(process, 'stdin', {
      configurable: true,
      value: Readable.from([`${password}\n${codeFor(who.secret, w.h.clock)}\n`]),
    });
  }
  const run = (sub: string, rest: string[], values: Record<string, unknown>) =>
    drugsCommand(w.h.p, sub, rest, { tenant: w.tenant, ...values });
  const proposals = () => w.h.p.changes.list(w.tenant, { limit: 100, offset: 0 });

  it('proposes the release as one change; a second pharmacist approves it into the catalog', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    typed(w.pharmA);
    expect(await run('import', [FIXTURE], { actor: 'pia@example.test' })).toBe(0);
    const printed = out.mock.calls.map((c) => String(c[0])).join('');
    const [pending] = await proposals();
    expect(pending).toMatchObject({ kind: 'catalog', status: 'proposed' });
    expect(printed).toContain(`Proposal ${pending?.id ?? '?'}:`);
    expect(printed).toMatch(/[1-9][0-9]* drugs/);

    // The proposer cannot approve their own change; another pharmacist can.
    typed(w.pharmA);
    await expect(
      run('approve', [pending?.id ?? ''], { actor: 'pia@example.test' }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    typed(w.pharmB);
    expect(await run('approve', [pending?.id ?? ''], { actor: 'pete@example.test' })).toBe(0);
    const drugs = await w.h.p.db.withTenant(w.tenant, (tx) =>
      DrugCatalogRepository.findByCode(tx, '1049621'),
    );
    expect(drugs.map((d) => d.name)).toEqual(['oxycodone hydrochloride 5 MG Oral Tablet']);
  });

  it('refuses a wrong password and an operator without catalog.manage, proposing nothing', async () => {
    const before = (await proposals()).length;
    typed(w.pharmA, 'not-the-password');
    await expect(run('import', [FIXTURE], { actor: 'pia@example.test' })).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    typed(w.prescriber);
    await expect(run('import', [FIXTURE], { actor: 'doc@example.test' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    expect(await proposals()).toHaveLength(before);
  });
});
