import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointRef } from '../../src/network/send-gate.js';
import {
  isolatedEnv,
  runScrip,
  scripBin,
  startServe,
  type ServeProcess,
} from '../serve-process.js';
import { networkPki, pinOf, until, type NetworkPki } from '../switch/switch-harness.js';
import { pharmacyRow } from './pharmacy-fixtures.js';
import {
  apiOf,
  Authenticator,
  enableNetwork,
  importDirectory,
  freePort,
  httpsCall,
  Session,
  type Api,
  type Seed,
  type SeedUser,
} from './serve-e2e.js';

/**
 * Issue 8, "Done when": three processes, each with its own certificates and its own database —
 * `scrip serve` for the clinic, `scrip switch`, `scrip serve` for the pharmacy — set up through
 * the CLIs and the HTTP API as an operator would (`scrip demo seed` provides the clinic's proofed
 * prescriber with EPCS permission, its patients and drug catalog, and the pharmacy tenant's staff).
 * A Schedule II NewRx signed over HTTP travels outbox → mTLS → switch → pharmacy listener, arrives
 * in the pharmacy inbox with a verified signature; the pharmacist accepts and dispenses, and the
 * prescriber's delivery timeline shows acknowledged, then dispensed.
 */

const CLINIC_ID = 'E2E-CLINIC-01';
const PHARMACY = String(2_000_000 + Math.floor(Math.random() * 7_999_999));
const OXYCODONE = '1049621';

describe('three processes: clinic serve, scrip switch, pharmacy serve', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-3p-'));
  chmodSync(root, 0o755);
  const drops: (() => Promise<void>)[] = [];
  let pki: NetworkPki;
  let clinic: ServeProcess | undefined;
  let pharmacy: ServeProcess | undefined;
  let sw: ChildProcess | undefined;
  let swOut = '';
  let clinicSeed: Seed;
  let pharmacySeed: Seed;
  let auth: Authenticator;

  const file = (name: string, text: string, mode = 0o644): string => {
    const path = join(root, name);
    writeFileSync(path, text, { mode });
    return path;
  };
  const scrip = async (args: string[], env: NodeJS.ProcessEnv): Promise<string> => {
    const r = await runScrip(args, env);
    expect(r.code, `scrip ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const user = (seed: Seed, role: string): SeedUser => {
    const u = seed.users.find((x) => x.role === role);
    if (u === undefined) throw new Error(`no ${role} in the seed`);
    return u;
  };
  const signIn = async (base: Api, u: SeedUser): Promise<Session> =>
    Session.open(base, u.email, u.password, await auth.code(u.totpSecret));

  let clinicBase: Api;
  let pharmacyBase: Api;
  let switchUrl: string;

  beforeAll(async () => {
    pki = await networkPki();
    const [clinicNet, pharmacyNet, switchPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
    ]);
    switchUrl = `https://127.0.0.1:${String(switchPort)}/ncpdp/script`;
    const clinicListener = `https://127.0.0.1:${String(clinicNet)}/ncpdp/script`;
    const pharmacyListener = `https://127.0.0.1:${String(pharmacyNet)}/ncpdp/script`;
    const ca = file('ca.pem', pki.ca.certPem);
    const switchPin = pinOf(pki.switchCert.certPem);
    const listenerEnv = (port: number, who: 'clinic' | 'pharmacy'): Record<string, string> => {
      const server = who === 'clinic' ? pki.clinicServer : pki.pharmacyServer;
      return {
        SCRIP_HOST: '127.0.0.1',
        SCRIP_NETWORK_PORT: String(port),
        SCRIP_NETWORK_TLS_CERT_FILE: file(`${who}-listener.pem`, server.certPem),
        SCRIP_NETWORK_TLS_KEY_FILE: file(`${who}-listener.key`, server.keyPem, 0o600),
        SCRIP_NETWORK_CA_FILE: ca,
        // Only the switch may connect to a node's listener.
        SCRIP_NETWORK_PEER_PINS: switchPin,
        SCRIP_NETWORK_WORKER_INTERVAL_MS: '200',
      };
    };

    // 1. The clinic: demo seed (proofed prescriber with EPCS, patients, catalog), its network
    //    identity through the switch, the pharmacy in its directory; then serve.
    const c = await isolatedEnv(join(root, 'clinic'), listenerEnv(clinicNet, 'clinic'));
    drops.push(c.drop);
    await scrip(['demo', 'seed', '--out', join(root, 'clinic-seed.json')], c.env);
    clinicSeed = JSON.parse(readFileSync(join(root, 'clinic-seed.json'), 'utf8')) as Seed;
    // Steps already used by the seed's enrolments and step-ups.
    auth = new Authenticator(Math.floor(Date.now() / 30_000) + 1);
    const clinicTenant = clinicSeed.tenants.find((t) => t.kind === 'clinic')?.id ?? '';
    await scrip(
      [
        'network',
        'identity',
        'set',
        '--tenant',
        clinicTenant,
        '--id',
        `D:${CLINIC_ID}`,
        '--cert',
        file('clinic-client.pem', pki.clinicClient.certPem),
        '--key',
        file('clinic-client.key', pki.clinicClient.keyPem, 0o600),
        '--switch',
        switchUrl,
        '--pin',
        switchPin,
      ],
      c.env,
    );
    const directory = file(
      'directory.jsonl',
      `${JSON.stringify(
        pharmacyRow(PHARMACY, {
          name: 'E2E Pharmacy',
          serviceLevels: ['new', 'cancel', 'controlled'],
          endpointUrl: pharmacyListener,
          pins: { primary: pinOf(pki.pharmacyServer.certPem) },
        }),
      )}\n`,
    );
    await importDirectory(c.env, clinicSeed, directory, auth);
    clinic = await startServe(c.env);
    clinicBase = apiOf(clinic, join(root, 'clinic'));
    const jwks = JSON.parse(
      (await httpsCall(clinicBase, 'GET', '/.well-known/jwks.json', {})).text,
    ) as {
      keys: unknown[];
    };
    expect(jwks.keys.length).toBeGreaterThan(0);

    // 2. The pharmacy: its own installation and database; the demo seed's pharmacy tenant and
    //    staff, one location with its NCPDP ID, the pharmacist a member, the clinic trusted.
    const p = await isolatedEnv(join(root, 'pharmacy'), listenerEnv(pharmacyNet, 'pharmacy'));
    drops.push(p.drop);
    await scrip(['demo', 'seed', '--out', join(root, 'pharmacy-seed.json')], p.env);
    pharmacySeed = JSON.parse(readFileSync(join(root, 'pharmacy-seed.json'), 'utf8')) as Seed;
    const pharmacyTenant = pharmacySeed.tenants.find((t) => t.kind === 'pharmacy')?.id ?? '';
    const location = JSON.parse(
      await scrip(
        [
          'pharmacy',
          'add',
          '--tenant',
          pharmacyTenant,
          '--ncpdp',
          PHARMACY,
          '--name',
          'E2E Pharmacy',
        ],
        p.env,
      ),
    ) as { id: string };
    const pharmacist = pharmacySeed.users.find(
      (u) => u.role === 'pharmacist' && u.tenantId === pharmacyTenant,
    );
    if (pharmacist === undefined) throw new Error('no pharmacy pharmacist in the seed');
    await scrip(
      [
        'pharmacy',
        'member',
        '--tenant',
        pharmacyTenant,
        '--pharmacy',
        location.id,
        '--user',
        pharmacist.userId,
      ],
      p.env,
    );
    await scrip(
      [
        'network',
        'trust',
        '--tenant',
        pharmacyTenant,
        '--sender',
        CLINIC_ID,
        '--jwks',
        file('clinic-jwks.json', JSON.stringify(jwks)),
      ],
      p.env,
    );
    await scrip(
      [
        'network',
        'identity',
        'set',
        '--tenant',
        pharmacyTenant,
        '--id',
        `P:${PHARMACY}`,
        '--cert',
        file('pharmacy-client.pem', pki.pharmacyClient.certPem),
        '--key',
        file('pharmacy-client.key', pki.pharmacyClient.keyPem, 0o600),
        '--switch',
        switchUrl,
        '--pin',
        switchPin,
      ],
      p.env,
    );
    pharmacy = await startServe(p.env);
    pharmacyBase = apiOf(pharmacy, join(root, 'pharmacy'));

    // 3. The switch: its own database and certificate; both nodes registered as participants.
    const s = await isolatedEnv(join(root, 'switch'), {
      SCRIP_SWITCH_HOST: '127.0.0.1',
      SCRIP_SWITCH_PORT: String(switchPort),
      SCRIP_SWITCH_TLS_CERT_FILE: file('switch.pem', pki.switchCert.certPem),
      SCRIP_SWITCH_TLS_KEY_FILE: file('switch.key', pki.switchCert.keyPem, 0o600),
      SCRIP_SWITCH_CLIENT_CA_FILE: ca,
      SCRIP_SWITCH_BACKOFF_BASE_MS: '100',
      SCRIP_SWITCH_BACKOFF_MAX_MS: '500',
    });
    drops.push(s.drop);
    const participants = file(
      'participants.json',
      JSON.stringify([
        {
          id: 'clinic-e2e',
          kind: 'prescriber_system',
          addresses: [`D:${CLINIC_ID}`],
          endpointUrl: clinicListener,
          serverPins: { primary: pinOf(pki.clinicServer.certPem) },
          clientPins: { primary: pinOf(pki.clinicClient.certPem) },
          serviceLevels: ['new', 'cancel', 'change', 'renewal', 'controlled'],
          jwks,
        },
        {
          id: `pharmacy-${PHARMACY}`,
          kind: 'pharmacy',
          addresses: [`P:${PHARMACY}`],
          endpointUrl: pharmacyListener,
          serverPins: { primary: pinOf(pki.pharmacyServer.certPem) },
          clientPins: { primary: pinOf(pki.pharmacyClient.certPem) },
          serviceLevels: ['new', 'cancel', 'controlled'],
        },
      ]),
    );
    await scrip(['switch', 'participants', 'add', participants], s.env);
    const proc = spawn(process.execPath, [scripBin(), 'switch'], {
      env: s.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sw = proc;
    proc.stdout.on('data', (b: Buffer) => (swOut += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (swOut += b.toString()));
    await until(() => /listening on https:/.test(swOut), 90_000, `switch start:\n${swOut}`);

    // 4. The BAA gate on both sides: the switch's endpoint, a vendor with a signed BAA, enabled.
    const officer = await signIn(clinicBase, user(clinicSeed, 'compliance_officer'));
    await enableNetwork(officer, endpointRef(switchUrl));
    // The pharmacy tenant's administrator invites a compliance officer, who enrols and enables.
    const admin = await signIn(
      pharmacyBase,
      pharmacySeed.users.find((u) => u.role === 'tenant_admin' && u.tenantId === pharmacyTenant) ??
        user(pharmacySeed, 'tenant_admin'),
    );
    const email = `officer-${PHARMACY}@pharmacy.e2e.test`;
    const inv = await admin.ok<{ token: string }>('POST', '/api/v1/users/invitations', {
      email,
      roles: ['compliance_officer'],
    });
    const pharmacyOfficer = new Session(pharmacyBase);
    const password = 'violet-quarry-Lantern-1987-spoke';
    await pharmacyOfficer.ok('POST', '/api/v1/auth/invitations/accept', {
      token: inv.token,
      email,
      password,
      displayName: 'Pharmacy Compliance',
    });
    const { secret } = await pharmacyOfficer.ok<{ secret: string }>(
      'POST',
      '/api/v1/auth/totp/enrol',
    );
    await pharmacyOfficer.ok('POST', '/api/v1/auth/totp/confirm', {
      code: await auth.code(secret),
    });
    await enableNetwork(pharmacyOfficer, endpointRef(switchUrl));
  }, 420_000);

  afterAll(async () => {
    if (sw !== undefined && sw.exitCode === null) {
      const exited = new Promise((r) => sw?.once('exit', r));
      sw.kill('SIGTERM');
      await exited;
    }
    await clinic?.stop('SIGTERM');
    await pharmacy?.stop('SIGTERM');
    for (const drop of drops) await drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a signed Schedule II NewRx reaches the pharmacy inbox verified; dispensed; the prescriber sees acknowledged then dispensed', async () => {
    const prescriberUser = clinicSeed.users.find((u) => u.userId === clinicSeed.prescriber.userId);
    if (prescriberUser === undefined) throw new Error('no prescriber in the seed');
    const doc = await signIn(clinicBase, prescriberUser);
    const patientId = clinicSeed.patientIds[0] ?? '';
    const draft = await doc.ok<{ id: string; deaSchedule: string }>(
      'POST',
      '/api/v1/prescriptions',
      {
        patientId,
        rxcui: OXYCODONE,
        quantity: { value: 20, unit: 'tablet' },
        daysSupply: 5,
        sig: 'Take 1 tablet by mouth every 6 hours as needed for pain',
        refills: 0,
        substitutionAllowed: true,
        pharmacyNcpdpId: PHARMACY,
        diagnosis: { code: 'M54.50' },
        practice: {
          name: 'Demo Clinic',
          line: '400 Main Street',
          city: 'Sacramento',
          state: 'CA',
          postalCode: '95814',
        },
      },
    );
    expect(draft.deaSchedule).toBe('CII');
    const id = draft.id;
    await doc.ok('GET', `/api/v1/patients/${patientId}/epcs-review`);
    await doc.ok('POST', `/api/v1/prescriptions/${id}/ready`, {});
    await doc.ok('POST', '/api/v1/auth/step-up', {
      action: 'rx.sign.controlled',
      totp: await auth.code(prescriberUser.totpSecret),
    });
    const signed = await doc.ok<{ signed: { jws: string }[] }>(
      'POST',
      `/api/v1/patients/${patientId}/epcs-sign`,
      { prescriptionIds: [id] },
    );
    const jws = signed.signed[0]?.jws ?? '';
    expect(jws).not.toBe('');

    // The pharmacist sees it in the inbox, its signature verified.
    const pharmacyTenant = pharmacySeed.tenants.find((t) => t.kind === 'pharmacy')?.id ?? '';
    const pharmacist = pharmacySeed.users.find(
      (u) => u.role === 'pharmacist' && u.tenantId === pharmacyTenant,
    );
    if (pharmacist === undefined) throw new Error('no pharmacist');
    const rph = await signIn(pharmacyBase, pharmacist);
    type Inbox = { items: { id: string; status: string; schedule: string | null }[] };
    let inbox: Inbox = { items: [] };
    await until(
      async () => {
        inbox = await rph.ok<Inbox>('GET', '/api/v1/pharmacy/inbox');
        return inbox.items.length === 1;
      },
      60_000,
      `NewRx in the pharmacy inbox\nclinic:\n${clinic?.output() ?? ''}\nswitch:\n${swOut}`,
    );
    const item = inbox.items[0];
    expect(item).toMatchObject({ status: 'received' });
    const view = await rph.ok<{ signature: { status: string; jws: string } }>(
      'GET',
      `/api/v1/pharmacy/inbox/${item?.id ?? ''}`,
    );
    expect(view.signature).toMatchObject({ status: 'verified', jws });

    type Timeline = { status: string; events: { event: string; code: string | null }[] };
    const timeline = (): Promise<Timeline> =>
      doc.ok<Timeline>('GET', `/api/v1/prescriptions/${id}/delivery`);
    await until(async () => (await timeline()).status === 'acknowledged', 60_000, 'acknowledged');

    await rph.ok('POST', `/api/v1/pharmacy/inbox/${item?.id ?? ''}/accept`, {});
    await rph.ok('POST', `/api/v1/pharmacy/inbox/${item?.id ?? ''}/dispense`, { quantity: '20' });
    await until(
      async () => (await timeline()).status === 'dispensed',
      60_000,
      `dispensed\npharmacy:\n${pharmacy?.output() ?? ''}\nswitch:\n${swOut}`,
    );
    const events = (await timeline()).events.map((e) => e.event);
    expect(events.indexOf('acknowledged')).toBeGreaterThan(events.indexOf('sent'));
    expect(events.indexOf('dispensed')).toBeGreaterThan(events.indexOf('acknowledged'));
    expect(events.filter((e) => e === 'acknowledged')).toHaveLength(1);
    expect(events.filter((e) => e === 'dispensed')).toHaveLength(1);
    // Each leg once: one item in the inbox.
    expect((await rph.ok<Inbox>('GET', '/api/v1/pharmacy/inbox')).items).toHaveLength(1);
  }, 240_000);
});
