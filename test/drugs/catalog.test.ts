import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { applyDueChanges } from '../../src/prescribing/change-control.service.js';
import { proposeRxNormImport } from '../../src/prescribing/drug-import.js';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { auditActions, get, post as plainPost, type Browser } from '../identity/harness.js';
import { drugWorld, FIXTURE, stepUpToDecide, type DrugWorld } from './helpers.js';

interface DrugJson {
  id: string;
  rxcui: string;
  tty: string;
  name: string;
  ndcs: string[];
  deaSchedule: string | null;
  ingredients: { rxcui: string; name: string }[];
  version: number;
}

describe('drug catalog under change control', () => {
  let w: DrugWorld;

  /** Decisions on proposals need a fresh step-up (catalog.change.decide); others post as is. */
  async function post(
    app: FastifyInstance,
    url: string,
    b: Browser,
    payload?: Record<string, unknown>,
  ): Promise<LightMyRequestResponse> {
    const who = [w.pharmA, w.pharmB, w.prescriber, w.support, w.outsider].find(
      (u) => u.browser === b,
    );
    if (/\/(approve|reject)$/.test(url) && who !== undefined) await stepUpToDecide(w.h, who);
    return plainPost(app, url, b, payload);
  }
  let importId: string;

  beforeAll(async () => {
    w = await drugWorld();
    const { proposal, release } = await proposeRxNormImport(
      w.changes,
      w.tenant,
      { userId: w.pharmA.userId },
      FIXTURE,
    );
    expect(release.drugs).toHaveLength(7);
    expect(proposal.status).toBe('proposed');
    importId = proposal.id;
  }, 180_000);
  afterAll(async () => {
    await w.close();
  });

  it('an import is only a proposal: nothing is in the catalog until approved', async () => {
    const search = await get(w.app, '/api/v1/drugs?prefix=oxy', w.pharmB.browser);
    expect(search.statusCode, search.body).toBe(200);
    expect(search.json<{ drugs: unknown[] }>().drugs).toEqual([]);
    const shown = await get(w.app, `/api/v1/change-proposals/${importId}`, w.pharmB.browser);
    expect(shown.statusCode, shown.body).toBe(200);
    expect(shown.json()).toMatchObject({
      proposal: { kind: 'catalog', status: 'proposed', proposedBy: w.pharmA.userId },
      preview: { added: 7, changed: 0 },
      payloadTruncated: false,
    });
  });

  it('the proposer cannot approve their own import (403, audited as denied)', async () => {
    const res = await post(
      w.app,
      `/api/v1/change-proposals/${importId}/approve`,
      w.pharmA.browser,
      {},
    );
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toMatchObject({ code: 'forbidden', detail: 'self_approval' });
    const audit = await auditActions(w.h, w.tenant);
    expect(audit).toContainEqual(
      expect.objectContaining({ action: 'catalog.change.approve', outcome: 'denied' }),
    );
    const still = await get(w.app, `/api/v1/change-proposals/${importId}`, w.pharmB.browser);
    expect(still.json<{ proposal: { status: string } }>().proposal.status).toBe('proposed');
  });

  it('support may not read the catalog; a prescriber reads but may not propose', async () => {
    expect((await get(w.app, '/api/v1/drugs?prefix=a', w.support.browser)).statusCode).toBe(403);
    expect((await get(w.app, '/api/v1/change-proposals', w.support.browser)).statusCode).toBe(403);
    expect((await get(w.app, '/api/v1/drugs?prefix=a', w.prescriber.browser)).statusCode).toBe(200);
    const proposed = await post(w.app, '/api/v1/change-proposals', w.prescriber.browser, {
      kind: 'formulary',
      summary: 'x',
      payload: { entries: [{ rxcui: '314076', status: 'preferred', notes: null }] },
    });
    expect(proposed.statusCode).toBe(403);
    expect(
      (await post(w.app, `/api/v1/change-proposals/${importId}/approve`, w.prescriber.browser, {}))
        .statusCode,
    ).toBe(403);
  });

  it("another tenant's pharmacist gets 404 for this tenant's proposal", async () => {
    const o = w.outsider.browser;
    expect((await get(w.app, `/api/v1/change-proposals/${importId}`, o)).statusCode).toBe(404);
    const approve = await post(w.app, `/api/v1/change-proposals/${importId}/approve`, o, {});
    expect(approve.statusCode).toBe(404);
    const list = await get(w.app, '/api/v1/change-proposals', o);
    expect(list.json<{ proposals: unknown[] }>().proposals).toEqual([]);
  });

  it('a second pharmacist approves; the drugs are searchable by prefix, RXCUI and NDC', async () => {
    const res = await post(
      w.app,
      `/api/v1/change-proposals/${importId}/approve`,
      w.pharmB.browser,
      { note: 'checked against the release notes' },
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'applied',
      decidedBy: w.pharmB.userId,
      appliedVersion: 1,
    });
    // Prefix, case-insensitive, paginated.
    const page1 = await get(w.app, '/api/v1/drugs?prefix=OXY&limit=1', w.prescriber.browser);
    expect(page1.json()).toMatchObject({ hasMore: true, limit: 1, offset: 0 });
    const page2 = await get(
      w.app,
      '/api/v1/drugs?prefix=OXY&limit=1&offset=1',
      w.prescriber.browser,
    );
    expect(page2.json()).toMatchObject({ hasMore: false });
    const names = [page1, page2].flatMap((r) =>
      r.json<{ drugs: DrugJson[] }>().drugs.map((d) => d.rxcui),
    );
    expect(names.sort()).toEqual(['1049621', '1049683']);
    // By RXCUI: a Schedule II opioid with its ingredient.
    const byCui = await get(w.app, '/api/v1/drugs/by-code/1049621', w.prescriber.browser);
    const [oxy] = byCui.json<{ drugs: DrugJson[] }>().drugs;
    expect(oxy).toMatchObject({
      tty: 'SCD',
      deaSchedule: 'CII',
      ingredients: [{ rxcui: '7804', name: 'oxycodone' }],
      ndcs: ['00406055201', '00406055205'],
    });
    // By NDC, hyphenated 4-4-2 (normalised) and 11 digits.
    const byNdc = await get(w.app, '/api/v1/drugs/by-code/0406-0552-01', w.prescriber.browser);
    expect(byNdc.json<{ drugs: DrugJson[] }>().drugs.map((d) => d.rxcui)).toEqual(['1049621']);
    const brand = await get(w.app, '/api/v1/drugs/by-code/59011010010', w.prescriber.browser);
    expect(brand.json<{ drugs: DrugJson[] }>().drugs[0]).toMatchObject({
      tty: 'SBD',
      deaSchedule: 'CII',
    });
    // A non-controlled drug.
    const lis = await get(w.app, '/api/v1/drugs/by-code/314076', w.prescriber.browser);
    expect(lis.json<{ drugs: DrugJson[] }>().drugs[0]).toMatchObject({
      deaSchedule: null,
      ingredients: [{ rxcui: '29046', name: 'lisinopril' }],
    });
    expect(
      (await get(w.app, '/api/v1/drugs/by-code/not-a-code', w.prescriber.browser)).statusCode,
    ).toBe(400);
    // The other tenant's catalog is its own (empty).
    const other = await get(w.app, '/api/v1/drugs/by-code/1049621', w.outsider.browser);
    expect(other.json<{ drugs: unknown[] }>().drugs).toEqual([]);
    expect(
      (await get(w.app, `/api/v1/drugs/${oxy?.id ?? ''}`, w.outsider.browser)).statusCode,
    ).toBe(404);
    const audit = (await auditActions(w.h, w.tenant)).map((a) => `${a.action}:${a.outcome}`);
    expect(audit).toEqual(
      expect.arrayContaining([
        'catalog.change.propose:success',
        'catalog.change.approve:success',
        'catalog.change.apply:success',
      ]),
    );
  });

  it('deciding twice is a conflict', async () => {
    const again = await post(
      w.app,
      `/api/v1/change-proposals/${importId}/reject`,
      w.pharmA.browser,
      {},
    );
    expect(again.statusCode).toBe(409);
  });

  it('a future effective date waits for applyDueChanges at or after it', async () => {
    const effectiveAt = new Date(w.h.clock.now().getTime() + 86_400_000);
    const proposed = await post(w.app, '/api/v1/change-proposals', w.pharmA.browser, {
      kind: 'formulary',
      summary: 'lisinopril preferred',
      effectiveAt: effectiveAt.toISOString(),
      payload: { entries: [{ rxcui: '314076', status: 'preferred', notes: 'generic first' }] },
    });
    expect(proposed.statusCode, proposed.body).toBe(201);
    const id = proposed.json<{ id: string }>().id;
    const approved = await post(
      w.app,
      `/api/v1/change-proposals/${id}/approve`,
      w.pharmB.browser,
      {},
    );
    expect(approved.json()).toMatchObject({ status: 'approved', appliedAt: null });
    const formulary = async (): Promise<unknown[]> =>
      (await get(w.app, '/api/v1/formulary', w.prescriber.browser)).json<{ entries: unknown[] }>()
        .entries;
    expect(await formulary()).toEqual([]);
    // A clock of its own (the sessions keep theirs).
    const early = new ManualClock(effectiveAt.getTime() - 1000);
    expect(await applyDueChanges(w.h.p.db, w.tenant, early, w.appliers)).toEqual([]);
    expect(await formulary()).toEqual([]);
    const due = new ManualClock(effectiveAt.getTime());
    expect(await applyDueChanges(w.h.p.db, w.tenant, due, w.appliers)).toEqual([id]);
    expect(await formulary()).toMatchObject([
      { rxcui: '314076', status: 'preferred', notes: 'generic first' },
    ]);
    expect(await applyDueChanges(w.h.p.db, w.tenant, due, w.appliers)).toEqual([]);
  });

  it('a second import that changes a drug keeps its previous state in the history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-rrf-'));
    cpSync(FIXTURE, dir, { recursive: true });
    const conso = join(dir, 'RXNCONSO.RRF');
    writeFileSync(
      conso,
      readFileSync(conso, 'utf8').replace(
        '|lisinopril 10 MG Oral Tablet|',
        '|lisinopril 10 MG Oral Tablet (reformulated)|',
      ),
    );
    const { proposal } = await proposeRxNormImport(
      w.changes,
      w.tenant,
      { userId: w.pharmB.userId },
      dir,
    );
    const shown = await get(w.app, `/api/v1/change-proposals/${proposal.id}`, w.pharmA.browser);
    expect(shown.json()).toMatchObject({
      preview: { added: 0, changed: 1, changedRxcuis: '314076' },
    });
    const res = await post(
      w.app,
      `/api/v1/change-proposals/${proposal.id}/approve`,
      w.pharmA.browser,
      {},
    );
    expect(res.statusCode, res.body).toBe(200);
    const version = res.json<{ appliedVersion: number }>().appliedVersion;
    const lis = (await get(w.app, '/api/v1/drugs/by-code/314076', w.prescriber.browser)).json<{
      drugs: DrugJson[];
    }>().drugs[0];
    expect(lis).toMatchObject({ name: 'lisinopril 10 MG Oral Tablet (reformulated)', version });
    const hist = await get(w.app, `/api/v1/drugs/${lis?.id ?? ''}/history`, w.prescriber.browser);
    expect(hist.statusCode, hist.body).toBe(200);
    expect(hist.json()).toMatchObject({
      history: [
        {
          version: 1,
          supersededBy: version,
          state: { name: 'lisinopril 10 MG Oral Tablet', rxcui: '314076' },
        },
      ],
    });
    // Untouched drugs keep their version.
    const oxy = (await get(w.app, '/api/v1/drugs/by-code/1049621', w.prescriber.browser)).json<{
      drugs: DrugJson[];
    }>().drugs[0];
    expect(oxy?.version).toBe(1);
    const versions = await get(w.app, '/api/v1/catalog/versions', w.prescriber.browser);
    expect(
      versions
        .json<{ versions: { version: number; kind: string }[] }>()
        .versions.map((v) => v.kind),
    ).toEqual(['catalog', 'formulary', 'catalog']);
  });

  it('a malformed RRF line is refused naming file and line, and proposes nothing', async () => {
    const before = await w.changes.list(w.tenant, { limit: 100, offset: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'scrip-rrf-'));
    cpSync(FIXTURE, dir, { recursive: true });
    const rel = join(dir, 'RXNREL.RRF');
    const lines = readFileSync(rel, 'utf8').split('\n');
    lines[2] = `${lines[2] ?? ''}extra|`;
    writeFileSync(rel, lines.join('\n'));
    await expect(
      proposeRxNormImport(w.changes, w.tenant, { userId: w.pharmA.userId }, dir),
    ).rejects.toThrow('RXNREL.RRF line 3: expected 16 fields, found 17');
    expect(await w.changes.list(w.tenant, { limit: 100, offset: 0 })).toHaveLength(before.length);
  });

  it('bad proposals are 400 and create nothing', async () => {
    const before = await w.changes.list(w.tenant, { limit: 100, offset: 0 });
    const bad = [
      {
        kind: 'catalog',
        summary: 's',
        payload: { source: 'manual', upsert: [{ rxcui: 'x' }], retire: [], limits: [] },
      },
      {
        kind: 'formulary',
        summary: 's',
        payload: { entries: [{ rxcui: '1', status: 'maybe', notes: null }] },
      },
      { kind: 'routing', summary: 's', payload: {} }, // a routing change lists pharmacies
      { kind: 'routing', summary: 's', payload: { upsert: [{ ncpdpId: '1234567' }] } },
      {
        kind: 'catalog',
        summary: 's',
        payload: {
          source: 'manual',
          upsert: [],
          retire: [],
          limits: [{ rxcui: '1', limits: { maxSingleDose: null, maxDailyDose: null, unit: 'mg' } }],
        },
      },
    ];
    for (const body of bad) {
      const res = await post(w.app, '/api/v1/change-proposals', w.pharmA.browser, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect(await w.changes.list(w.tenant, { limit: 100, offset: 0 })).toHaveLength(before.length);
  });

  it('dose limits and retirement are catalog changes too; limits survive a re-import', async () => {
    const res = await post(w.app, '/api/v1/change-proposals', w.pharmA.browser, {
      kind: 'catalog',
      summary: 'oxycodone dose limits; retire aspirin 81',
      payload: {
        source: 'manual',
        upsert: [],
        retire: ['243670'],
        limits: [
          { rxcui: '1049621', limits: { maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' } },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json<{ id: string }>().id;
    expect(
      (await post(w.app, `/api/v1/change-proposals/${id}/approve`, w.pharmB.browser, {}))
        .statusCode,
    ).toBe(200);
    const oxy = (await get(w.app, '/api/v1/drugs/by-code/1049621', w.prescriber.browser)).json<{
      drugs: (DrugJson & { limits: unknown })[];
    }>().drugs[0];
    expect(oxy?.limits).toEqual({ maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' });
    const aspirin = await get(w.app, '/api/v1/drugs?prefix=aspirin', w.prescriber.browser);
    expect(aspirin.json<{ drugs: unknown[] }>().drugs).toEqual([]);
    const withRetired = await get(
      w.app,
      '/api/v1/drugs?prefix=aspirin&includeRetired=true',
      w.prescriber.browser,
    );
    expect(withRetired.json<{ drugs: { status: string }[] }>().drugs).toMatchObject([
      { status: 'retired' },
    ]);
    // A re-import of the original release: limits stay, aspirin comes back, lisinopril reverts.
    const { proposal } = await proposeRxNormImport(
      w.changes,
      w.tenant,
      { userId: w.pharmA.userId },
      FIXTURE,
    );
    await w.changes.approve(w.tenant, { userId: w.pharmB.userId }, proposal.id);
    const again = (await get(w.app, '/api/v1/drugs/by-code/1049621', w.prescriber.browser)).json<{
      drugs: (DrugJson & { limits: unknown })[];
    }>().drugs[0];
    expect(again?.limits).toEqual({ maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' });
  });

  it('the database keeps proposals immutable and refuses self-decisions and deletes', async () => {
    await expect(
      w.h.p.db.withTenant(w.tenant, (tx) =>
        tx.query('DELETE FROM change_proposals WHERE id = $1', [importId]),
      ),
    ).rejects.toThrow();
    await expect(
      w.h.p.db.withTenant(w.tenant, (tx) =>
        tx.query(`UPDATE change_proposals SET summary = 'rewritten' WHERE id = $1`, [importId]),
      ),
    ).rejects.toThrow(/immutable/);
    const fresh = await w.changes.propose(
      w.tenant,
      { userId: w.pharmA.userId },
      {
        kind: 'formulary',
        summary: 'probe',
        payload: { entries: [{ rxcui: '1', status: 'not_covered', notes: null }] },
      },
    );
    await expect(
      w.h.p.db.withTenant(w.tenant, (tx) =>
        tx.query(
          `UPDATE change_proposals SET status = 'approved', decided_by = proposed_by, decided_at = now() WHERE id = $1`,
          [fresh.id],
        ),
      ),
    ).rejects.toThrow(/check constraint/);
    await expect(
      w.h.p.db.withTenant(w.tenant, (tx) => tx.query('DELETE FROM drug_history')),
    ).rejects.toThrow();
  });
});
