import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import { drugRoutes } from '../../src/http/routes/drugs.routes.js';
import { pharmacyRoutes } from '../../src/http/routes/pharmacies.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { applyDueChanges } from '../../src/prescribing/change-control.service.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { decideProposal } from '../drugs/helpers.js';
import {
  auditActions,
  bootstrapAdmin,
  get,
  harness,
  headers,
  inviteAndEnrol,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { jsonl, pharmacyRow, pin } from './pharmacy-fixtures.js';

interface ProposalJson {
  id: string;
  kind: string;
  status: string;
  proposedBy: string;
  decidedBy: string | null;
  appliedVersion: number | null;
  effectiveAt: string;
}

/**
 * The pharmacy directory over HTTP under two-person change control (issue 7): a write is a
 * routing proposal (202) that changes nothing until a different person with `catalog.manage`
 * approves it through /api/v1/change-proposals, on or after its effective date.
 */
describe('pharmacy directory over HTTP', () => {
  let h: Harness;
  let app: FastifyInstance;
  let admin: Browser;
  let support: Browser;
  let compliance: Enrolled;
  let pharmacist: Enrolled;
  let dual: Enrolled;
  let prescriber: Browser;
  let tenant: TenantId;
  let foreignId: string;

  const put = (url: string, b: Browser, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url, headers: headers(b), payload });
  const approve = (who: Enrolled, id: string) =>
    decideProposal(h, app, who, `/api/v1/change-proposals/${id}/approve`);
  const inDirectory = (ncpdpId: string) => h.p.pharmacies.byNcpdpId(tenant, ncpdpId);
  const proposals = async (): Promise<ProposalJson[]> => {
    const res = await get(
      app,
      '/api/v1/change-proposals?kind=routing&limit=100',
      pharmacist.browser,
    );
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ proposals: ProposalJson[] }>().proposals;
  };
  /** Proposes a row over POST (or PUT to `id`) and returns the 202 proposal. */
  const propose = async (
    who: Browser,
    row: Record<string, unknown>,
    id?: string,
  ): Promise<ProposalJson> => {
    const res =
      id === undefined
        ? await post(app, '/api/v1/pharmacies', who, row)
        : await put(`/api/v1/pharmacies/${id}`, who, row);
    expect(res.statusCode, res.body).toBe(202);
    return res.json<ProposalJson>();
  };

  beforeAll(async () => {
    h = await harness();
    ({ app } = await buildTestApp(h.p.db, {
      routes: [...pharmacyRoutes(h.p.pharmacies, h.p.changes), ...drugRoutes(h.p.db, h.p.changes)],
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const a = await bootstrapAdmin(h);
    admin = a.browser;
    tenant = asTenantId(a.tenantId);
    compliance = await inviteAndEnrol(h, admin, 'cora@example.test', ['compliance_officer']);
    pharmacist = await inviteAndEnrol(h, admin, 'phil@example.test', ['pharmacist']);
    // Holds both permissions: may propose and may approve, but never their own change.
    dual = await inviteAndEnrol(h, admin, 'dana@example.test', [
      'compliance_officer',
      'pharmacist',
    ]);
    prescriber = (await inviteAndEnrol(h, admin, 'pat@example.test', ['prescriber'])).browser;
    support = (await inviteAndEnrol(h, admin, 'sue@example.test', ['support'])).browser;
    const other = await freshTenant(h.p.db, 'Other clinic');
    await h.p.pharmacies.importFile(other, jsonl([pharmacyRow('7000009')]), { kind: 'cli' });
    foreignId = (await h.p.pharmacies.search(other, { limit: 1, offset: 0 })).items[0]?.id ?? '';
    expect(foreignId).not.toBe('');
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('requires a session and the right permission', async () => {
    expect((await get(app, '/api/v1/pharmacies', undefined)).statusCode).toBe(401);
    expect((await get(app, '/api/v1/pharmacies', support)).statusCode).toBe(403);
    expect(
      (await post(app, '/api/v1/pharmacies', support, pharmacyRow('7000001'))).statusCode,
    ).toBe(403);
    expect(
      (await post(app, '/api/v1/pharmacies', prescriber, pharmacyRow('7000001'))).statusCode,
    ).toBe(403);
    // Proposing routing is not approving it: the compliance officer lacks catalog.manage.
    const p = await propose(compliance.browser, pharmacyRow('7000008'));
    expect((await approve(compliance, p.id)).statusCode).toBe(403);
    expect(await inDirectory('7000008')).toBeUndefined();
  });

  it('adds and re-routes a pharmacy only once a second person approves', async () => {
    const added = await propose(compliance.browser, pharmacyRow('7000001'));
    expect(added).toMatchObject({ kind: 'routing', status: 'proposed' });
    expect(added.proposedBy).toBe(compliance.userId);
    expect(await inDirectory('7000001')).toBeUndefined();
    const shown = await get(app, `/api/v1/change-proposals/${added.id}`, pharmacist.browser);
    expect(shown.json()).toMatchObject({ preview: { added: 1, changed: 0 } });

    const approved = await approve(pharmacist, added.id);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<ProposalJson>()).toMatchObject({
      status: 'applied',
      decidedBy: pharmacist.userId,
    });
    const before = await inDirectory('7000001');
    expect(before?.endpointUrl).toBe('https://rx.example.test/7000001/script');
    const found = await get(app, '/api/v1/pharmacies?name=main%20street&limit=5', prescriber);
    expect(found.json<{ items: { id: string }[] }>().items).toEqual([
      expect.objectContaining({ id: before?.id }),
    ]);

    // A new endpoint and rotated pins: proposed, previewed, and in force only after approval.
    const moved = pharmacyRow('7000001', {
      endpointUrl: 'https://new-host.example.test/script',
      pins: { primary: pin('7000001-b'), backup: pin('7000001-c') },
    });
    const change = await propose(compliance.browser, moved, before?.id);
    const preview = await get(app, `/api/v1/change-proposals/${change.id}`, pharmacist.browser);
    expect(preview.json()).toMatchObject({
      preview: { changed: 1, endpointChanges: 1, pinChanges: 1, changedNcpdpIds: '7000001' },
    });
    expect((await inDirectory('7000001'))?.endpointUrl).toBe(before?.endpointUrl);
    expect((await approve(pharmacist, change.id)).statusCode).toBe(200);
    // The outbox worker routes a NewRx by this lookup (network-outbox.worker.ts).
    const routed = await h.p.db.withTenant(tenant, (tx) =>
      h.p.pharmacies.repository.byNcpdpId(tx, '7000001'),
    );
    expect(routed).toMatchObject({
      id: before?.id,
      endpointUrl: 'https://new-host.example.test/script',
      pins: { primary: pin('7000001-b'), backup: pin('7000001-c') },
    });
  });

  it('refuses self-approval, recording the refusal, and changes nothing', async () => {
    const own = await propose(dual.browser, pharmacyRow('7000002'));
    const res = await approve(dual, own.id);
    expect(res.statusCode).toBe(403);
    expect(res.json<{ detail: string }>().detail).toBe('self_approval');
    expect(await inDirectory('7000002')).toBeUndefined();
    expect((await proposals()).find((p) => p.id === own.id)?.status).toBe('proposed');
    const denied = (await auditActions(h, tenant)).filter(
      (a) => a.action === 'catalog.change.approve' && a.outcome === 'denied',
    );
    expect(denied.map((a) => a.details.reason)).toContain('self_approval');
    // Another person may approve it.
    expect((await approve(pharmacist, own.id)).json<ProposalJson>().status).toBe('applied');
    expect(await inDirectory('7000002')).toBeDefined();
  });

  it('waits for a future effective date, then applies, keeping the history', async () => {
    const at = new Date(h.clock.now().getTime() + 86_400_000);
    const later = await propose(compliance.browser, {
      ...pharmacyRow('7000003'),
      effectiveAt: at.toISOString(),
      summary: 'New pharmacy from tomorrow',
    });
    expect(later.effectiveAt).toBe(at.toISOString());
    const approved = await approve(pharmacist, later.id);
    expect(approved.json<ProposalJson>().status).toBe('approved');
    expect(await applyDueChanges(h.p.db, tenant, h.clock, h.p.changeAppliers)).toEqual([]);
    expect(await inDirectory('7000003')).toBeUndefined();
    // The scheduler's clock reaches the date (the sessions' clock stays, so they do not expire).
    const due = new ManualClock(at.getTime() + 1000);
    expect(await applyDueChanges(h.p.db, tenant, due, h.p.changeAppliers)).toEqual([later.id]);
    expect((await inDirectory('7000003'))?.name).toBe('Main Street Pharmacy 7000003');

    // History: every proposal, its decision and its version stay; the audit trail has each step.
    const all = await proposals();
    const mine = all.find((p) => p.id === later.id);
    expect(mine).toMatchObject({ status: 'applied', decidedBy: pharmacist.userId });
    const versions = await get(app, '/api/v1/catalog/versions', prescriber);
    const routing = versions
      .json<{ versions: { proposalId: string; kind: string; details: unknown }[] }>()
      .versions.filter((v) => v.kind === 'routing');
    expect(routing.map((v) => v.proposalId)).toContain(later.id);
    expect(routing.find((v) => v.proposalId === later.id)?.details).toMatchObject({
      rows: 1,
      created: 1,
    });
    const shown = await get(app, `/api/v1/change-proposals/${later.id}`, pharmacist.browser);
    expect(shown.json<{ payload: unknown }>().payload).toMatchObject({
      upsert: [{ ncpdpId: '7000003' }],
    });
    const actions = (await auditActions(h, tenant)).map((a) => a.action);
    for (const a of ['catalog.change.propose', 'catalog.change.approve', 'catalog.change.apply']) {
      expect(actions).toContain(a);
    }
  });

  it('refuses bad rows with 400 naming row and field, and duplicates with 409, proposing nothing', async () => {
    const before = (await proposals()).length;
    const http = await post(
      app,
      '/api/v1/pharmacies',
      compliance.browser,
      pharmacyRow('7000004', { endpointUrl: 'http://plain.example.test/' }),
    );
    expect(http.statusCode).toBe(400);
    expect(http.json<{ detail: string }>().detail).toBe('endpointUrl');
    const npi = await post(
      app,
      '/api/v1/pharmacies',
      compliance.browser,
      pharmacyRow('7000004', { npi: '1234567890' }),
    );
    expect(npi.statusCode).toBe(400);
    expect(npi.body).not.toContain('1234567890');
    const level = await post(
      app,
      '/api/v1/pharmacies',
      compliance.browser,
      pharmacyRow('7000004', { serviceLevels: ['teleport'] }),
    );
    expect(level.statusCode).toBe(400);
    // A routing proposal of several rows names the bad row and its field.
    const many = await post(app, '/api/v1/change-proposals', pharmacist.browser, {
      kind: 'routing',
      summary: 'two rows',
      payload: {
        upsert: [pharmacyRow('7000005'), pharmacyRow('7000006', { pins: { primary: 'x' } })],
      },
    });
    expect(many.statusCode).toBe(400);
    expect(many.json<{ detail: string }>().detail).toBe('row 2: pins.primary');
    expect((await get(app, '/api/v1/pharmacies?limit=1000', prescriber)).statusCode).toBe(400);
    // 7000001 is in the directory: adding it again is a conflict; changing an NCPDP ID is refused.
    const dup = await post(app, '/api/v1/pharmacies', compliance.browser, pharmacyRow('7000001'));
    expect(dup.statusCode).toBe(409);
    const existing = await inDirectory('7000001');
    const renumber = await put(
      `/api/v1/pharmacies/${existing?.id ?? ''}`,
      compliance.browser,
      pharmacyRow('7000007'),
    );
    expect(renumber.statusCode).toBe(400);
    expect(renumber.json<{ detail: string }>().detail).toBe('ncpdpId');
    expect(await proposals()).toHaveLength(before);
  });

  it('answers 404 for another tenant’s pharmacy, on read and on update', async () => {
    const before = (await proposals()).length;
    expect((await get(app, `/api/v1/pharmacies/${foreignId}`, prescriber)).statusCode).toBe(404);
    const res = await put(
      `/api/v1/pharmacies/${foreignId}`,
      compliance.browser,
      pharmacyRow('7000009'),
    );
    expect(res.statusCode).toBe(404);
    const search = await get(app, '/api/v1/pharmacies?ncpdpId=7000009', prescriber);
    expect(search.json<{ total: number }>().total).toBe(0);
    expect(await proposals()).toHaveLength(before);
  });
});
