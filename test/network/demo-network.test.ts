import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { seedDemo, type DemoSeedResult } from '../../src/cli/demo-seed.js';
import { DEMO_PHARMACY_NCPDP_IDS } from '../../src/cli/demo-patients.js';
import { loadConfig } from '../../src/config/index.js';
import { ensureLocalNetwork } from '../../src/network/local-network.js';
import { spkiSha256 } from '../../src/network/mtls.js';
import { baaSendGate, networkPharmacyEndpoints } from '../../src/network/send-gate.js';
import { ensureSwitchTenant, ParticipantRepository } from '../../src/switch/index.js';
import { testConfig } from '../app.js';
import { harness, type Harness } from '../identity/harness.js';

/**
 * `scrip demo seed` with the one-machine network (docs/network.md "One machine"): identities,
 * switch participants, the pharmacy's trust and staff, the clinic's directory and the BAA gate of
 * both tenants, all from the local CA in the data directory.
 */
describe('scrip demo seed: the one-machine network', () => {
  let h: Harness;
  const root = mkdtempSync(join(tmpdir(), 'scrip-demo-net-'));
  const dataDir = join(root, 'data');
  const config = testConfig({
    SCRIP_LOCAL_NETWORK: 'on',
    SCRIP_SWITCH_PORT: '19443',
    SCRIP_NETWORK_PORT: '19444',
  });
  let first: DemoSeedResult;

  const seed = (name: string, c = config): Promise<DemoSeedResult> => {
    const deps = {
      config: c,
      db: h.p.db,
      clock: h.clock,
      identity: h.p.identity,
      patientServices: h.p.patientServices,
      changes: h.p.changes,
      prescriptions: h.p.prescriptions,
    };
    return seedDemo(deps, join(root, name), {
      config: c,
      dataDir,
      db: h.p.db,
      clock: h.clock,
      signingKeys: h.p.signingKeys,
      network: h.p.network,
      pharmacy: h.p.pharmacy,
      changes: h.p.changes,
      compliance: h.p.compliance,
    });
  };

  beforeAll(async () => {
    h = await harness();
    first = await seed('demo.json');
  }, 240_000);
  afterAll(async () => {
    await h.close();
  });

  it('provisions the certificates once, private, from the local CA', async () => {
    const dir = join(dataDir, 'network');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['node-key.pem', 'switch-key.pem', 'switch-client-key.pem']) {
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
    const ca = new X509Certificate(readFileSync(join(dataDir, 'tls', 'ca.pem')));
    const node = new X509Certificate(readFileSync(join(dir, 'node.pem')));
    expect(node.checkIssued(ca)).toBe(true);
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1');
    // Reused, not re-issued: the same pins the second time.
    const before = readFileSync(join(dir, 'switch.pem'), 'utf8');
    const again = await ensureLocalNetwork(config, dataDir);
    expect(readFileSync(join(dir, 'switch.pem'), 'utf8')).toBe(before);
    expect(again?.switchUrl).toBe('https://127.0.0.1:19443/ncpdp/script');
    expect(again?.nodeUrl).toBe('https://127.0.0.1:19444/ncpdp/script');
    expect(again?.config.SCRIP_NETWORK_CA_FILE).toBe(join(dataDir, 'tls', 'ca.pem'));
    expect(again?.config.SCRIP_SWITCH_CLIENT_CA_FILE).toBe(join(dataDir, 'tls', 'ca.pem'));
    expect(again?.config.SCRIP_NETWORK_PEER_PINS).toBe(again?.switchClientPin);
  });

  it('gives both tenants identities that send through the local switch', async () => {
    const net = first.network;
    expect(net).toBeDefined();
    const local = await ensureLocalNetwork(config, dataDir);
    const clinic = asTenantId(first.tenants[0]?.id ?? '');
    const pharmacy = asTenantId(first.tenants[1]?.id ?? '');
    expect(net?.pharmacyTenantId).toBe(pharmacy);
    expect(net?.reusedPharmacy).toBe(false);
    const ci = await h.p.network.identities.list(clinic);
    expect(ci.map((i) => `${i.qualifier}:${i.address}`)).toEqual([net?.clinicAddress]);
    const pi = await h.p.network.identities.list(pharmacy);
    expect(pi.map((i) => `${i.qualifier}:${i.address}`).sort()).toEqual(
      DEMO_PHARMACY_NCPDP_IDS.map((id) => `P:${id}`).sort(),
    );
    expect(DEMO_PHARMACY_NCPDP_IDS).toContain('0500002');
    for (const i of [...ci, ...pi]) {
      expect(i.switchUrl).toBe(local?.switchUrl);
      expect(i.switchPins).toEqual([local?.switchPin]);
    }
    // The switch knows both, reached at the local listener, pinned.
    const tenant = await ensureSwitchTenant(h.p.db);
    const repo = new ParticipantRepository(h.clock);
    const parts = await h.p.db.withTenant(tenant, (tx) => repo.list(tx, tenant));
    const clinicPart = parts.find((p) => p.kind === 'prescriber_system');
    const pharmacyPart = parts.find((p) => p.kind === 'pharmacy');
    expect(clinicPart?.clientPins.primary).toBe(ci[0]?.certPin);
    expect(pharmacyPart?.clientPins.primary).toBe(pi[0]?.certPin);
    for (const p of [clinicPart, pharmacyPart]) {
      expect(p?.endpointUrl).toBe(local?.nodeUrl);
      expect(p?.serverPins.primary).toBe(local?.nodePin);
      expect(p?.serviceLevels).toContain('controlled');
    }
    const jwks = await h.p.signingKeys.jwks();
    expect(clinicPart?.jwks).toEqual(jwks);
    expect(pharmacyPart?.addresses.map((a) => a.value).sort()).toEqual(
      [...DEMO_PHARMACY_NCPDP_IDS].sort(),
    );
    // The client certificates come from the local CA.
    const ca = new X509Certificate(readFileSync(join(dataDir, 'tls', 'ca.pem')));
    const certs = await h.p.db.withTenant(clinic, (tx) =>
      tx.query<{ cert_pem: string }>('SELECT cert_pem FROM network_identities'),
    );
    const cert = new X509Certificate(certs.rows[0]?.cert_pem ?? '');
    expect(cert.checkIssued(ca)).toBe(true);
    expect(spkiSha256(cert)).toBe(ci[0]?.certPin);
  });

  it('sets up the pharmacy (locations, staff, trusted clinic) and the clinic directory', async () => {
    const clinic = asTenantId(first.tenants[0]?.id ?? '');
    const pharmacy = asTenantId(first.tenants[1]?.id ?? '');
    const locations = await h.p.pharmacy.setup.listLocations(pharmacy);
    expect(locations.map((l) => l.ncpdpId).sort()).toEqual([...DEMO_PHARMACY_NCPDP_IDS].sort());
    const staff = first.users
      .filter((u) => u.tenantId === pharmacy && u.role !== 'tenant_admin')
      .map((u) => u.userId)
      .sort();
    expect(staff).toHaveLength(2);
    for (const l of locations) {
      expect(JSON.stringify(l)).toContain(staff[0]);
      expect(JSON.stringify(l)).toContain(staff[1]);
    }
    const senders = await h.p.pharmacy.setup.listSenders(pharmacy);
    expect(senders.map((s) => `D:${s.senderId}`)).toEqual([first.network?.clinicAddress]);
    const local = await ensureLocalNetwork(config, dataDir);
    const dir = await h.p.pharmacies.search(clinic, { limit: 10, offset: 0 });
    expect(dir.items.map((p) => p.ncpdpId).sort()).toEqual([...DEMO_PHARMACY_NCPDP_IDS].sort());
    for (const p of dir.items) {
      expect(p.endpointUrl).toBe(local?.switchUrl);
      expect(p.pins.primary).toBe(local?.switchPin);
    }
    // Through two-person change control: proposed by one clinic user, approved by another.
    const routing = await h.p.changes.list(clinic, { kind: 'routing', limit: 10, offset: 0 });
    expect(routing).toHaveLength(1);
    expect(routing[0]?.status).toBe('applied');
    expect(routing[0]?.decidedBy).not.toBe(routing[0]?.proposedBy);
  });

  it('passes the BAA gate of both tenants for the switch, and the inventory lists the same ref', async () => {
    const gate = baaSendGate(h.p.compliance.gate);
    const ref = first.network?.integrationRef ?? '';
    expect(ref).toBe('endpoint:https://127.0.0.1:19443');
    for (const t of first.tenants) {
      const tenant = asTenantId(t.id);
      await h.p.db.withTenant(tenant, async (tx) => {
        expect(await gate.check(tx, tenant, ref), t.kind).toBeUndefined();
        // Another endpoint stays refused: the gate is real.
        expect(await gate.check(tx, tenant, 'endpoint:https://elsewhere.example')).toBeDefined();
        const listed = await networkPharmacyEndpoints.list(tx, tenant);
        expect(listed.map((e) => e.ref)).toContain(ref);
      });
    }
  });

  it('a second seed reuses the demo pharmacy, which trusts the new clinic too', async () => {
    const second = await seed('demo2.json');
    expect(second.network?.reusedPharmacy).toBe(true);
    const pharmacy = asTenantId(first.tenants[1]?.id ?? '');
    expect(second.network?.pharmacyTenantId).toBe(pharmacy);
    const senders = await h.p.pharmacy.setup.listSenders(pharmacy);
    expect(senders.map((s) => `D:${s.senderId}`).sort()).toEqual(
      [first.network?.clinicAddress, second.network?.clinicAddress].sort(),
    );
    const clinic2 = asTenantId(second.tenants[0]?.id ?? '');
    const gate = baaSendGate(h.p.compliance.gate);
    await h.p.db.withTenant(clinic2, async (tx) => {
      expect(await gate.check(tx, clinic2, second.network?.integrationRef ?? '')).toBeUndefined();
    });
  }, 240_000);

  it('issues a certificate again when its key no longer matches it', async () => {
    const other = join(root, 'other');
    const dir = join(other, 'network');
    const again = await ensureLocalNetwork(config, other);
    // A key that is not the certificate's (a crash between the two writes): issued again.
    writeFileSync(
      join(dir, 'node-key.pem'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
      { mode: 0o600 },
    );
    const renewed = await ensureLocalNetwork(config, other);
    expect(renewed?.nodePin).not.toBe(again?.nodePin);
    expect(renewed?.switchPin).toBe(again?.switchPin);
  });

  it('is skipped when the local network is off, and refused in production', async () => {
    const off = testConfig({ SCRIP_LOCAL_NETWORK: 'off' });
    const r = await seed('demo-off.json', off);
    expect(r.network).toBeUndefined();
    expect(() => loadConfig({ SCRIP_ENV: 'production', SCRIP_LOCAL_NETWORK: 'on' })).toThrowError(
      /SCRIP_LOCAL_NETWORK/,
    );
    // auto: on for the embedded default only, never in production.
    expect(
      await ensureLocalNetwork(testConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/x' }), dataDir),
    ).toBeUndefined();
  }, 240_000);
});
