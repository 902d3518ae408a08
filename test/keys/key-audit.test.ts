import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/index.js';
import { createLogger } from '../../src/config/index.js';
import { LocalKeyProvider } from '../../src/crypto/local-key-provider.js';
import { auditKeyEvents, compose } from '../../src/platform.js';
import { testConfig } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/** Every key operation leaves an audit record (45 CFR 164.312(b); issue: "audited key operations"). */
describe('key operations in the audit log', () => {
  let base: TestPlatform;
  let p: ReturnType<typeof compose>;
  let provider: LocalKeyProvider;

  beforeAll(async () => {
    base = await testPlatform(undefined, { isolated: true });
    provider = await LocalKeyProvider.open({ keyDir: base.keyDir });
    p = compose(
      testConfig(),
      createLogger('silent'),
      base.db,
      provider,
      systemClock,
      auditKeyEvents(systemClock),
    );
  });
  afterAll(async () => {
    await provider.close();
    await base.close();
  });

  type Row = {
    action: string;
    outcome: string;
    actor_user_id: string | null;
    tenant_id: string | null;
  };
  /** Platform records are visible outside any tenant; a tenant's records only in its context. */
  async function actions(tenant: Parameters<typeof base.db.withTenant>[0]): Promise<Row[]> {
    const sql = 'SELECT action, outcome, actor_user_id, tenant_id FROM audit_log ORDER BY seq';
    const platform = await base.db.withoutTenant(async (tx) => (await tx.query<Row>(sql)).rows);
    const own = await base.db.withTenant(tenant, async (tx) => (await tx.query<Row>(sql)).rows);
    return [...platform, ...own];
  }

  it('records requests, refused self-approval, execution, rotation, re-encryption and signing-key rotation', async () => {
    const t = await freshTenant(base.db);
    await base.db.withTenant(t, (tx) =>
      p.patients.create(tx, t, { givenName: 'A', familyName: 'B', birthDate: '1990-01-01' }),
    );
    const req = await p.keyAdmin.request('rotate_kek', {}, 'alice');
    await expect(p.keyAdmin.approve(req.id, 'alice')).rejects.toMatchObject({ code: 'forbidden' });
    await p.keyAdmin.approve(req.id, 'bob');
    await p.reencryptor.start(t);
    await p.reencryptor.run(t);
    await p.signingKeys.rotate();
    const log = await actions(t);
    expect(log).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'key.request.rotate_kek',
          outcome: 'success',
          actor_user_id: 'alice',
        }),
        expect.objectContaining({
          action: 'key.approve.rotate_kek',
          outcome: 'denied',
          actor_user_id: 'alice',
        }),
        expect.objectContaining({
          action: 'key.execute.rotate_kek',
          outcome: 'success',
          actor_user_id: 'bob',
        }),
        expect.objectContaining({ action: 'key.dek.rewrap', tenant_id: t }),
        expect.objectContaining({ action: 'key.dek.rotate', tenant_id: t }),
        expect.objectContaining({ action: 'key.dek.destroy', tenant_id: t }),
        expect.objectContaining({ action: 'key.dek.reencrypted', tenant_id: t }),
        expect.objectContaining({ action: 'key.signing.rotate' }),
      ]),
    );
  });
});
