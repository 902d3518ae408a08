import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import { pharmaciesCommand } from '../../src/cli/pharmacies.command.js';
import { checkPharmacy } from '../../src/network/pharmacy-directory.repository.js';
import {
  parseDirectoryFile,
  PharmacyDirectoryService,
} from '../../src/network/pharmacy-directory.service.js';
import { freshTenant, openTestDatabase } from '../db.js';
import {
  bootstrapAdmin,
  codeFor,
  harness,
  inviteAndEnrol,
  PASSWORD,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { jsonl, pharmacyRow, pin } from './pharmacy-fixtures.js';

async function auditOf(
  db: Database,
  tenant: TenantId,
): Promise<{ action: string; details: Record<string, unknown> }[]> {
  return db.withTenant(tenant, async (tx) => {
    const { rows } = await tx.query<{ action: string; details: Record<string, unknown> }>(
      "SELECT action, details FROM audit_log WHERE action LIKE 'pharmacy.directory.%' ORDER BY seq",
    );
    return rows;
  });
}

async function count(db: Database, tenant: TenantId): Promise<number> {
  return db.withTenant(tenant, async (tx) => {
    const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pharmacies');
    return rows[0]?.n ?? -1;
  });
}

describe('pharmacy directory rows', () => {
  it('accepts a valid row and refuses each invalid field by name', () => {
    expect(checkPharmacy(pharmacyRow('1234567')).ok).toBe(true);
    const cases: [Record<string, unknown>, string][] = [
      [{ ncpdpId: '123456' }, 'ncpdpId'],
      [{ npi: '1234567890' }, 'npi'],
      [{ name: '' }, 'name'],
      [{ address: { line: 'x', city: 'y', state: 'Il', zip: '62704' } }, 'address.state'],
      [{ address: { line: 'x', city: 'y', state: 'IL', zip: '6270' } }, 'address.zip'],
      [{ phone: '555-0100' }, 'phone'],
      [{ serviceLevels: [] }, 'serviceLevels'],
      [{ serviceLevels: ['new', 'teleport'] }, 'serviceLevels'],
      [{ serviceLevels: ['new', 'new'] }, 'serviceLevels'],
      [{ endpointUrl: 'http://rx.example.test/' }, 'endpointUrl'],
      [{ endpointUrl: 'https://user:pw@rx.example.test/' }, 'endpointUrl'],
      [{ pins: { primary: 'abc' } }, 'pins.primary'],
      [{ pins: { primary: pin('a'), backup: pin('a') } }, 'pins.backup'],
      [{ active: 'yes' }, 'active'],
      [{ extra: 1 }, 'unknown_field'],
    ];
    for (const [over, field] of cases) {
      expect(checkPharmacy(pharmacyRow('1234567', over)), field).toEqual({ ok: false, field });
    }
  });

  it('names the first bad row of a file without echoing its values', () => {
    const refusal = (content: string): unknown => {
      try {
        parseDirectoryFile(content);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const file = jsonl([pharmacyRow('1000001'), pharmacyRow('1000002', { npi: '9999999999' })]);
    const bad = refusal(file);
    expect(bad).toMatchObject({ code: 'validation_failed', detail: 'row 2: npi' });
    expect(JSON.stringify(bad) + String(bad)).not.toContain('9999999999');
    expect(refusal(`${jsonl([pharmacyRow('1000001')])}{not json\n`)).toMatchObject({
      detail: 'row 2: json',
    });
    expect(refusal(jsonl([pharmacyRow('1000001'), pharmacyRow('1000001')]))).toMatchObject({
      detail: 'row 2: duplicate ncpdpId',
    });
    expect(refusal('\n\n')).toMatchObject({ code: 'validation_failed' });
  });
});

describe('pharmacy directory import and search (database)', () => {
  let db: Database;
  let service: PharmacyDirectoryService;
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9));

  beforeAll(async () => {
    db = await openTestDatabase();
    service = new PharmacyDirectoryService(db, clock);
  });
  afterAll(async () => {
    await db.close();
  });

  it('imports a file, then upserts by NCPDP ID on a second import, auditing each import', async () => {
    const tenant = await freshTenant(db);
    const first = await service.importFile(
      tenant,
      jsonl([pharmacyRow('2000001'), pharmacyRow('2000002'), pharmacyRow('2000003')]),
      { kind: 'cli' },
    );
    expect(first).toMatchObject({ rows: 3, created: 3, updated: 0 });
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
    const second = await service.importFile(
      tenant,
      jsonl([
        pharmacyRow('2000002', { name: 'Renamed Pharmacy', active: false }),
        pharmacyRow('2000004'),
      ]),
      { kind: 'cli' },
    );
    expect(second).toMatchObject({ rows: 2, created: 1, updated: 1 });
    expect(await count(db, tenant)).toBe(4);
    const renamed = await service.search(tenant, { ncpdpId: '2000002', limit: 10, offset: 0 });
    expect(renamed.items[0]).toMatchObject({ name: 'Renamed Pharmacy', active: false });
    const audit = await auditOf(db, tenant);
    expect(audit.map((a) => a.action)).toEqual([
      'pharmacy.directory.import',
      'pharmacy.directory.import',
    ]);
    expect(audit[1]?.details).toMatchObject({ rows: 2, created: 1, updated: 1 });
  });

  it('is all-or-nothing: one bad row changes nothing and writes no audit record', async () => {
    const tenant = await freshTenant(db);
    await service.importFile(tenant, jsonl([pharmacyRow('3000001')]), { kind: 'cli' });
    await expect(
      service.importFile(
        tenant,
        jsonl([
          pharmacyRow('3000001', { name: 'Changed' }),
          pharmacyRow('3000002'),
          pharmacyRow('3000003', { endpointUrl: 'http://plain.example.test/' }),
        ]),
        { kind: 'cli' },
      ),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'row 3: endpointUrl' });
    expect(await count(db, tenant)).toBe(1);
    const [only] = (await service.search(tenant, { limit: 10, offset: 0 })).items;
    expect(only?.name).toBe('Main Street Pharmacy 3000001');
    expect(await auditOf(db, tenant)).toHaveLength(1);
  });

  it('searches by name prefix, city, ZIP prefix and NCPDP ID, paginated, within the tenant only', async () => {
    const tenant = await freshTenant(db);
    const other = await freshTenant(db);
    await service.importFile(
      tenant,
      jsonl([
        pharmacyRow('4000001', { name: 'Alpha Drugs' }),
        pharmacyRow('4000002', { name: 'alpine Pharmacy' }),
        pharmacyRow('4000003', {
          name: 'Beta_Rx 100%',
          address: { line: '9 Oak Ave', city: 'Shelbyville', state: 'IL', zip: '625650001' },
        }),
      ]),
      { kind: 'cli' },
    );
    await service.importFile(other, jsonl([pharmacyRow('4000009', { name: 'Alpha Other' })]), {
      kind: 'cli',
    });
    const byName = await service.search(tenant, { name: 'ALP', limit: 10, offset: 0 });
    expect(byName.items.map((p) => p.ncpdpId)).toEqual(['4000001', '4000002']);
    expect(byName.total).toBe(2);
    // LIKE metacharacters in the query are literal.
    expect((await service.search(tenant, { name: 'Beta_', limit: 10, offset: 0 })).total).toBe(1);
    expect((await service.search(tenant, { name: 'Beta%', limit: 10, offset: 0 })).total).toBe(0);
    expect((await service.search(tenant, { name: '_', limit: 10, offset: 0 })).total).toBe(0);
    const byCity = await service.search(tenant, { city: 'shelbyville', limit: 10, offset: 0 });
    expect(byCity.items.map((p) => p.ncpdpId)).toEqual(['4000003']);
    expect((await service.search(tenant, { zip: '62565', limit: 10, offset: 0 })).total).toBe(1);
    const page2 = await service.search(tenant, { limit: 2, offset: 2 });
    expect(page2.items).toHaveLength(1);
    expect(page2.total).toBe(3);
    // The other tenant's pharmacy is invisible, by search and by id.
    const theirs = (await service.search(other, { limit: 10, offset: 0 })).items[0];
    expect(theirs).toBeDefined();
    expect((await service.search(tenant, { ncpdpId: '4000009', limit: 10, offset: 0 })).total).toBe(
      0,
    );
    await expect(service.get(tenant, theirs?.id ?? '')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('importFile (internal seeding) refuses an unknown tenant', async () => {
    await expect(
      service.importFile(
        asTenantId('00000000-0000-4000-8000-000000000000'),
        jsonl([pharmacyRow('5000003')]),
        { kind: 'cli' },
      ),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

/**
 * `scrip pharmacies import` proposes, it does not write: the operator signs in (email, then
 * password and TOTP on standard input, src/cli/operator.ts) and the file becomes a routing
 * proposal that a second person approves.
 */
describe('scrip pharmacies import (change control)', () => {
  let h: Harness;
  let tenant: TenantId;
  let officer: Enrolled;
  let pharmacist: Enrolled;
  const dir = mkdtempSync(join(tmpdir(), 'scrip-pharm-'));

  /** Runs the command with `secrets` as standard input; returns exit code and output. */
  async function run(
    rest: string[],
    values: Record<string, unknown>,
    secrets: string[] = [],
  ): Promise<{ code: number; out: string }> {
    const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
    Object.defineProperty(process, 'stdin', {
      value: Readable.from(secrets.map((l) => `${l}\n`)),
      configurable: true,
    });
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await pharmaciesCommand(h.p, 'import', rest, values);
      return { code, out: out.join('') };
    } finally {
      write.mockRestore();
      vi.restoreAllMocks();
      if (stdin !== undefined) Object.defineProperty(process, 'stdin', stdin);
    }
  }
  const secretsOf = (u: Enrolled): string[] => {
    h.clock.advance(30_000);
    return [PASSWORD, codeFor(u.secret, h.clock)];
  };

  beforeAll(async () => {
    h = await harness();
    const admin = await bootstrapAdmin(h);
    tenant = asTenantId(admin.tenantId);
    officer = await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']);
    pharmacist = await inviteAndEnrol(h, admin.browser, 'phil@example.test', ['pharmacist']);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('proposes a file as one routing change; the directory changes only on approval', async () => {
    const file = join(dir, 'directory.jsonl');
    writeFileSync(file, jsonl([pharmacyRow('5000001'), pharmacyRow('5000002')]));
    const { code, out } = await run(
      [file],
      { tenant, actor: 'cora@example.test' },
      secretsOf(officer),
    );
    expect(code).toBe(0);
    const id = /Proposal ([0-9a-f-]{36})/.exec(out)?.[1] ?? '';
    expect(out).toContain(`scrip drugs approve ${id} --tenant ${tenant}`);
    const proposal = await h.p.changes.get(tenant, id);
    expect(proposal).toMatchObject({
      kind: 'routing',
      status: 'proposed',
      proposedBy: officer.userId,
    });
    expect(proposal.summary).toMatch(/directory\.jsonl \(sha256 [0-9a-f]{64}\): 2 pharmacies/);
    expect(await count(h.p.db, tenant)).toBe(0);
    const applied = await h.p.changes.approve(tenant, { userId: pharmacist.userId }, id);
    expect(applied.status).toBe('applied');
    expect(await count(h.p.db, tenant)).toBe(2);
  });

  it('refuses a bad row naming row and field before anyone signs in, proposing nothing', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      jsonl([pharmacyRow('5000003'), pharmacyRow('5000004', { endpointUrl: 'http://x.test/' })]),
    );
    const before = await h.p.changes.list(tenant, { limit: 100, offset: 0 });
    await expect(run([file], { tenant, actor: 'cora@example.test' })).rejects.toMatchObject({
      code: 'validation_failed',
      detail: 'row 2: endpointUrl',
    });
    expect(await h.p.changes.list(tenant, { limit: 100, offset: 0 })).toHaveLength(before.length);
  });

  it('refuses bad usage, a bad tenant, and an operator without pharmacies.manage', async () => {
    const file = join(dir, 'ok.jsonl');
    writeFileSync(file, jsonl([pharmacyRow('5000005')]));
    expect((await run([file], {})).code).toBe(2);
    await expect(run([file], { tenant: 'nope' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    const before = await h.p.changes.list(tenant, { limit: 100, offset: 0 });
    await expect(
      run([file], { tenant, actor: 'phil@example.test' }, secretsOf(pharmacist)),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(await h.p.changes.list(tenant, { limit: 100, offset: 0 })).toHaveLength(before.length);
  });
});
