import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { appendAudit, createCheckpoint, verifyProofBundle } from '../../src/audit/index.js';
import { auditRoutes } from '../../src/http/routes/audit.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { checkpointSigner } from '../../src/platform.js';
import { buildTestApp } from '../app.js';
import { assertValidFhir } from '../fhir.js';
import {
  bootstrapAdmin,
  get,
  harness,
  inviteAndEnrol,
  type Browser,
  type Harness,
} from '../identity/harness.js';

describe('audit API: search, export, proofs', () => {
  let h: Harness;
  let app: FastifyInstance;
  let admin: Browser;
  let compliance: Browser;
  let prescriber: Browser;

  beforeAll(async () => {
    h = await harness();
    ({ app } = await buildTestApp(h.p.db, {
      routes: auditRoutes(h.p.db, h.clock),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const a = await bootstrapAdmin(h);
    admin = a.browser;
    compliance = (await inviteAndEnrol(h, admin, 'cora@example.test', ['compliance_officer']))
      .browser;
    prescriber = (await inviteAndEnrol(h, admin, 'pat@example.test', ['prescriber'])).browser;
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('is closed to anonymous callers and to roles without audit.read', async () => {
    expect((await get(app, '/api/v1/audit/events', undefined)).statusCode).toBe(401);
    expect((await get(app, '/api/v1/audit/events', prescriber)).statusCode).toBe(403);
    expect((await get(app, '/api/v1/audit/export/fhir', admin)).statusCode).toBe(403); // read, not export
  });

  it('finds sign-in events of the tenant and records the search itself', async () => {
    const res = await get(app, '/api/v1/audit/events?action=auth.&limit=100', compliance);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ records: { action: string; tenantId: string }[] }>();
    expect(body.records.map((r) => r.action)).toEqual(expect.arrayContaining(['auth.mfa.enrol']));
    const again = await get(app, '/api/v1/audit/events?action=audit.search', compliance);
    expect(again.json<{ records: unknown[] }>().records.length).toBeGreaterThanOrEqual(1);
    expect(
      (await get(app, '/api/v1/audit/events?action=DROP%20TABLE', compliance)).statusCode,
    ).toBe(400);
  });

  it('exports FHIR R4 AuditEvents (independently validated) and syslog lines', async () => {
    const fhir = await get(app, '/api/v1/audit/export/fhir?limit=20', compliance);
    expect(fhir.statusCode, fhir.body).toBe(200);
    const bundle = fhir.json<{
      resourceType: string;
      entry: { resource: Record<string, unknown> }[];
    }>();
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.entry.length).toBeGreaterThan(0);
    for (const e of bundle.entry) assertValidFhir(e.resource);
    assertValidFhir(bundle);
    const syslog = await get(app, '/api/v1/audit/export/syslog?limit=5', compliance);
    expect(syslog.statusCode).toBe(200);
    expect(syslog.headers['content-type']).toMatch(/^text\/plain/);
    expect(syslog.body.split('\n')[0]).toMatch(/^<8[45]>1 \S+ \S+ scrip - /);
    const exports = await get(app, '/api/v1/audit/events?action=audit.export', compliance);
    expect(exports.json<{ records: unknown[] }>().records.length).toBe(2);
  });

  it('pages the FHIR and syslog exports with a next link that keeps the filters', async () => {
    const all = (
      await get(app, '/api/v1/audit/events?action=auth.mfa.enrol&limit=200', compliance)
    ).json<{ records: { seq: number }[] }>().records;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const fhirSeqs: number[] = [];
    let url: string | undefined = '/api/v1/audit/export/fhir?action=auth.mfa.enrol&limit=2';
    for (let pages = 0; url !== undefined; pages++) {
      expect(pages).toBeLessThan(all.length);
      const res = await get(app, url, compliance);
      expect(res.statusCode, res.body).toBe(200);
      const bundle = res.json<{
        link?: { relation: string; url: string }[];
        entry: { fullUrl: string }[];
      }>();
      assertValidFhir(bundle);
      expect(bundle.entry.length).toBeLessThanOrEqual(2);
      fhirSeqs.push(...bundle.entry.map((e) => Number(e.fullUrl.split(':').at(-1))));
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (url !== undefined) expect(url).toMatch(/[?&]action=auth\.mfa\.enrol(&|$)/);
    }
    expect(fhirSeqs).toEqual(all.map((r) => r.seq));

    const syslogSeqs: number[] = [];
    url = '/api/v1/audit/export/syslog?action=auth.mfa.enrol&limit=2';
    while (url !== undefined) {
      const res = await get(app, url, compliance);
      expect(res.statusCode).toBe(200);
      for (const line of res.body.split('\n').filter((l) => l !== '')) {
        syslogSeqs.push(Number(/ seq="(\d+)"/.exec(line)?.[1]));
      }
      const link = res.headers.link;
      url = typeof link === 'string' ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
    }
    expect(syslogSeqs).toEqual(all.map((r) => r.seq));
  });

  it('gives an inclusion proof that verifies offline; another tenant’s record is not found', async () => {
    const signer = await checkpointSigner(h.p.signingKeys, 'test.local/audit');
    const cp = await createCheckpoint(h.p.db, signer, 'test.local/audit');
    expect(cp).not.toBeNull();
    const mine = (
      await get(app, '/api/v1/audit/events?limit=1&action=auth.mfa.enrol', compliance)
    ).json<{ records: { seq: number }[] }>().records[0];
    if (mine === undefined) throw new Error('no record');
    const proof = await get(app, `/api/v1/audit/proofs/inclusion/${String(mine.seq)}`, compliance);
    expect(proof.statusCode, proof.body).toBe(200);
    const verified = verifyProofBundle(proof.json(), signer.publicKey);
    expect(verified).toBeTruthy();
    // A platform record (no tenant) is not this tenant's: answered exactly like a missing one.
    const platformSeq = await h.p.db.withoutTenant(
      async (tx) =>
        (
          await appendAudit(
            tx,
            {
              tenantId: null,
              actor: { kind: 'system' },
              action: 'key.signing.rotate',
              outcome: 'success',
            },
            h.clock,
          )
        ).seq,
    );
    const cp2 = await createCheckpoint(h.p.db, signer, 'test.local/audit');
    if (cp === null || cp2 === null) throw new Error('no checkpoints');
    // The consistency proof between the two checkpoints verifies offline; it fails against a
    // forked pair, and sizes that are not checkpoints are not found.
    const consistency = await get(
      app,
      `/api/v1/audit/proofs/consistency?size1=${String(cp.treeSize)}&size2=${String(cp2.treeSize)}`,
      compliance,
    );
    expect(consistency.statusCode, consistency.body).toBe(200);
    expect(verifyProofBundle(consistency.json(), signer.publicKey)).toMatchObject({
      kind: 'consistency',
      size1: cp.treeSize,
      size2: cp2.treeSize,
    });
    const forged = consistency.json<{ proof: string[] }>();
    expect(forged.proof.length).toBeGreaterThan(0);
    const zero = Buffer.alloc(32).toString('base64');
    expect(() =>
      verifyProofBundle({ ...forged, proof: [zero, ...forged.proof.slice(1)] }, signer.publicKey),
    ).toThrow();
    const notCheckpoint = await get(
      app,
      `/api/v1/audit/proofs/consistency?size1=${String(cp.treeSize - 1)}&size2=${String(cp2.treeSize)}`,
      compliance,
    );
    expect(notCheckpoint.statusCode).toBe(404);
    expect(
      (await get(app, '/api/v1/audit/proofs/consistency?size1=1&size2=2', prescriber)).statusCode,
    ).toBe(403);
    const other = await get(
      app,
      `/api/v1/audit/proofs/inclusion/${String(platformSeq)}`,
      compliance,
    );
    const missing = await get(app, '/api/v1/audit/proofs/inclusion/999999', compliance);
    expect(other.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(other.json<{ code: string }>().code).toBe(missing.json<{ code: string }>().code);
  });
});
