import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { Reencryptor } from '../../src/crypto/reencrypt.js';
import { ENCRYPTED_TABLES } from '../../src/platform.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

async function seed(p: TestPlatform, tenant: TenantId, n: number): Promise<string[]> {
  return p.db.withTenant(tenant, async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1) {
      ids.push(
        await p.patients.create(tx, tenant, {
          givenName: `Given${String(i)}`,
          familyName: `Family${String(i)}`,
          birthDate: '1970-01-01',
          mrn: `M-${String(i)}`,
        }),
      );
    }
    return ids;
  });
}

async function readAll(p: TestPlatform, tenant: TenantId, ids: string[]): Promise<string[]> {
  return p.db.withTenant(tenant, async (tx) => {
    const names: string[] = [];
    for (const id of ids) {
      const got = await p.patients.get(tx, tenant, id);
      names.push(got.shredded ? 'SHREDDED' : got.givenName);
    }
    return names;
  });
}

const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `Given${String(i)}`);

describe('key rotation', () => {
  const clock = new ManualClock(new Date());
  let p: TestPlatform;
  let t: TenantId;
  let ids: string[];

  beforeAll(async () => {
    p = await testPlatform(clock, { isolated: true });
    t = await freshTenant(p.db);
    ids = await seed(p, t, 45);
  });
  afterAll(async () => {
    await p.close();
  });

  it('rotate-dek: killed mid-way, resumes where it stopped, then destroys the old key', async () => {
    const { job, resumed } = await p.reencryptor.start(t);
    expect(resumed).toBe(false);
    expect(job).toMatchObject({ toVersion: 2, rowsTotal: 45, rowsDone: 0 });
    // New writes already use the new key while the job has not run.
    const fresh = await seed(p, t, 1);
    const stopped = await p.reencryptor.run(t, { batchSize: 10, maxBatches: 2 });
    expect(stopped).toMatchObject({ status: 'running', rowsDone: 20 });
    // "Kill": a new instance (another process) picks the job up from its committed cursor.
    const again = await p.reencryptor.start(t);
    expect(again.resumed).toBe(true);
    expect(again.job.rowsDone).toBe(20);
    const progress: number[] = [];
    const other = new Reencryptor(p.db, p.keyring, ENCRYPTED_TABLES, clock, async (_tx, e) => {
      p.events.push(e);
    });
    const done = await other.run(t, {
      batchSize: 10,
      onProgress: (j) => progress.push(j.rowsDone),
    });
    expect(done.status).toBe('done');
    expect(progress[0]).toBe(30);
    expect(await readAll(p, t, ids)).toEqual(expected(45));
    expect(await readAll(p, t, fresh)).toEqual(['Given0']);
    const keys = await p.db.withTenant(
      t,
      async (tx) =>
        (
          await tx.query<{ version: number; status: string; wrapped: Buffer | null }>(
            "SELECT version, status, wrapped FROM tenant_keys WHERE purpose = 'field' ORDER BY version",
          )
        ).rows,
    );
    expect(keys.map((k) => [k.version, k.status, k.wrapped === null])).toEqual([
      [1, 'destroyed', true],
      [2, 'active', false],
    ]);
    expect(p.events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['key.dek.rotate', 'key.dek.destroy', 'key.dek.reencrypted']),
    );
    const status = await p.keyAdmin.status();
    const mine = status.tenants.find((x) => x.tenantId === t);
    expect(mine?.keys.find((k) => k.purpose === 'field' && k.version === 2)?.rows).toBe(46);
  });

  it('rotate-kek needs a second administrator, re-wraps every data key, and nothing needs re-encryption', async () => {
    const before = await p.provider.currentKekVersion();
    const req = await p.keyAdmin.request('rotate_kek', {}, 'alice');
    await expect(p.keyAdmin.approve(req.id, 'alice')).rejects.toMatchObject({ code: 'forbidden' });
    const done = await p.keyAdmin.approve(req.id, 'bob');
    expect(done.status).toBe('executed');
    expect(await p.provider.currentKekVersion()).toBe(before + 1);
    const kekVersions = await p.db.withTenant(t, async (tx) =>
      (
        await tx.query<{ kek_version: number }>(
          'SELECT DISTINCT kek_version FROM tenant_keys WHERE wrapped IS NOT NULL',
        )
      ).rows.map((r) => r.kek_version),
    );
    expect(kekVersions).toEqual([before + 1]);
    p.keyring.forget();
    expect(await readAll(p, t, ids)).toEqual(expected(45));
    await expect(p.keyAdmin.approve(req.id, 'carol')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('an old KEK version can be destroyed only when no data key is wrapped by it', async () => {
    const current = await p.provider.currentKekVersion();
    const refused = await p.keyAdmin.request('destroy_kek_version', { version: current }, 'alice');
    expect((await p.keyAdmin.approve(refused.id, 'bob')).status).toBe('failed');
    const ok = await p.keyAdmin.request('destroy_kek_version', { version: current - 1 }, 'alice');
    expect((await p.keyAdmin.approve(ok.id, 'bob')).status).toBe('executed');
    p.keyring.forget();
    expect(await readAll(p, t, ids.slice(0, 3))).toEqual(expected(3));
  });

  it('requests expire', async () => {
    const req = await p.keyAdmin.request('rotate_kek', {}, 'alice');
    clock.advance(25 * 3_600_000);
    await expect(p.keyAdmin.approve(req.id, 'bob')).rejects.toMatchObject({ code: 'gone' });
    expect((await p.keyAdmin.list()).find((r) => r.id === req.id)?.status).toBe('expired');
  });

  it('warns when a data key is older than the policy allows', async () => {
    clock.advance(400 * 86_400_000);
    const status = await p.keyAdmin.status();
    expect(status.tenants.find((x) => x.tenantId === t)?.warnings.join(' ')).toMatch(
      /days old \(policy: 365\)/,
    );
  });
});

describe('crypto-shredding', () => {
  let p: TestPlatform;

  beforeAll(async () => {
    p = await testPlatform(undefined, { isolated: true });
  });
  afterAll(async () => {
    await p.close();
  });

  it('makes one tenant unreadable (reported as shredded) and leaves the others intact', async () => {
    const doomed = await freshTenant(p.db);
    const kept = await freshTenant(p.db);
    const doomedIds = await seed(p, doomed, 3);
    const keptIds = await seed(p, kept, 3);
    const req = await p.keyAdmin.request('shred_tenant', { tenantId: doomed }, 'alice');
    await expect(p.keyAdmin.approve(req.id, 'alice')).rejects.toMatchObject({ code: 'forbidden' });
    expect((await p.keyAdmin.approve(req.id, 'bob')).status).toBe('executed');
    p.keyring.forget();
    expect(await readAll(p, doomed, doomedIds)).toEqual(['SHREDDED', 'SHREDDED', 'SHREDDED']);
    expect(await readAll(p, kept, keptIds)).toEqual(expected(3));
    const status = await p.db.withTenant(
      doomed,
      async (tx) =>
        (await tx.query<{ status: string }>('SELECT status FROM tenants')).rows[0]?.status,
    );
    expect(status).toBe('shredded');
    expect(p.events.map((e) => e.action)).toContain('tenant.shred');
  });
});

describe('data-key usage bound (NIST SP 800-38D §8.3)', () => {
  it('rolls to a new data key once a key has had its share of encryptions', async () => {
    const p = await testPlatform(undefined, { isolated: true });
    try {
      const { Keyring } = await import('../../src/crypto/keyring.js');
      const small = new Keyring(p.provider, p.clock, { usageBlock: 2, rotateAt: 6 });
      const t = await freshTenant(p.db);
      const versions: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        versions.push(
          await p.db.withTenant(t, async (tx) => (await small.fieldKeyForWrite(tx, t)).version),
        );
      }
      expect(versions).toEqual([1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
      const reserved = await p.db.withTenant(
        t,
        async (tx) =>
          (
            await tx.query<{ version: number; usage_reserved: string; status: string }>(
              "SELECT version, usage_reserved, status FROM tenant_keys WHERE purpose = 'field' ORDER BY version",
            )
          ).rows,
      );
      expect(reserved.map((r) => [r.version, r.status])).toEqual([
        [1, 'retired'],
        [2, 'active'],
      ]);
    } finally {
      await p.close();
    }
  });
});
