import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import { pharmaciesCommand } from '../../src/cli/pharmacies.command.js';
import { checkPharmacy } from '../../src/network/pharmacy-directory.repository.js';
import {
  parseDirectoryFile,
  PharmacyDirectoryService,
} from '../../src/network/pharmacy-directory.service.js';
import { freshTenant, openTestDatabase } from '../db.js';
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

  it('scrip pharmacies import loads a file for a tenant and refuses bad usage', async () => {
    const tenant = await freshTenant(db);
    const dir = mkdtempSync(join(tmpdir(), 'scrip-pharm-'));
    const file = join(dir, 'directory.jsonl');
    writeFileSync(file, jsonl([pharmacyRow('5000001'), pharmacyRow('5000002')]));
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string) => out.push(chunk) > 0;
    try {
      expect(await pharmaciesCommand({ pharmacies: service }, 'import', [file], { tenant })).toBe(
        0,
      );
    } finally {
      process.stdout.write = write;
    }
    expect(JSON.parse(out.join(''))).toMatchObject({ rows: 2, created: 2, updated: 0 });
    expect(await count(db, tenant)).toBe(2);
    const err = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
      expect(await pharmaciesCommand({ pharmacies: service }, 'import', [file], {})).toBe(2);
    } finally {
      process.stderr.write = err;
    }
    await expect(
      pharmaciesCommand({ pharmacies: service }, 'import', [file], { tenant: 'nope' }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      service.importFile(
        asTenantId('00000000-0000-4000-8000-000000000000'),
        jsonl([pharmacyRow('5000003')]),
        {
          kind: 'cli',
        },
      ),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});
