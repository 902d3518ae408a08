import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toJwk } from '../../src/crypto/jws.js';
import { networkTrustCommand, pharmacyCommand } from '../../src/cli/pharmacy-network.command.js';
import { pharmacyTenantOf } from '../../src/pharmacy/index.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/** `scrip network trust` and `scrip pharmacy add|list`: validated, audited, tenant-scoped. */
describe('pharmacy set-up from the command line', () => {
  let p: TestPlatform;
  const dir = mkdtempSync(join(tmpdir(), 'scrip-jwks-'));
  beforeAll(async () => {
    p = await testPlatform();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await p.close();
  });

  const file = (name: string, value: unknown): string => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(value));
    return f;
  };

  it('trusts a prescriber system’s public JWKS and refuses private keys or an empty set', async () => {
    const tenant = await freshTenant(p.db, 'CLI Pharmacy');
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const good = file('good.json', { keys: [toJwk(publicKey, 'k1')] });
    expect(await networkTrustCommand(p, 'trust', { tenant, sender: 'CLINIC-9', jwks: good })).toBe(
      0,
    );
    expect((await p.pharmacy.setup.listSenders(tenant)).map((s) => [s.senderId, s.kids])).toEqual([
      ['CLINIC-9', ['k1']],
    ]);
    const priv = file('private.json', {
      keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'k2' }],
    });
    await expect(
      networkTrustCommand(p, 'trust', { tenant, sender: 'CLINIC-9', jwks: priv }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      networkTrustCommand(p, 'trust', {
        tenant,
        sender: 'CLINIC-9',
        jwks: file('e.json', { keys: [] }),
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      networkTrustCommand(p, 'trust', { tenant, sender: 'bad id!', jwks: good }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await networkTrustCommand(p, 'trust', { tenant })).toBe(2);
    const audit = await p.db.withTenant(tenant, async (tx) => {
      const { rows } = await tx.query<{ action: string }>(
        `SELECT action FROM audit_log WHERE action = 'pharmacy.sender.trust'`,
      );
      return rows;
    });
    expect(audit).toHaveLength(1);
  });

  it('adds a pharmacy; an NCPDP ID already registered (in any tenant) is a conflict', async () => {
    const a = await freshTenant(p.db, 'Pharmacy A');
    const b = await freshTenant(p.db, 'Pharmacy B');
    const ncpdp = String(3_000_000 + Math.floor(Math.random() * 999_999));
    expect(await pharmacyCommand(p, 'add', { tenant: a, ncpdp, name: 'A Pharmacy' })).toBe(0);
    await expect(
      pharmacyCommand(p, 'add', { tenant: b, ncpdp, name: 'B Pharmacy' }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect((await p.pharmacy.setup.listLocations(a)).map((l) => l.ncpdpId)).toEqual([ncpdp]);
    expect(await p.pharmacy.setup.listLocations(b)).toEqual([]);
    // The dispatcher's To → tenant step finds the owner, and nobody for an unknown ID.
    expect(await pharmacyTenantOf(p.db, ncpdp)).toBe(a);
    expect(await pharmacyTenantOf(p.db, '0000001')).toBeUndefined();
  });
});
