import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMtlsServer } from '../../src/network/mtls.js';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { scriptId } from '../../src/network/newrx-message.js';
import { endpointRef } from '../../src/network/send-gate.js';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';
import { pharmacyRow } from './pharmacy-fixtures.js';
import { networkPki, pinOf, until, type NetworkPki } from '../switch/switch-harness.js';
import {
  apiOf,
  Authenticator,
  enableNetwork,
  importDirectory,
  Session,
  type Api,
  type Seed,
  type SeedUser,
} from './serve-e2e.js';

const CLINIC_ID = 'E2E-SIGKILL-CLINIC';
const ACETAMINOPHEN = '313782';
const PHARMACY = '7654321';

/**
 * Issue 8, "Done when": the sending worker killed with SIGKILL mid-delivery delivers exactly once
 * and loses nothing. A real `scrip serve` (the clinic) sends the demo seed's signed NewRx to a
 * switch stand-in that holds the first request open; the serve process is killed with SIGKILL
 * while the request is in flight, then started again on the same data directory and database.
 * After the claim's lease expires (SCRIP_NETWORK_LEASE_SECONDS, 30 s here) the new process sends
 * the same MessageID again. The stand-in, like every receiver, processes each (From, MessageID)
 * once on arrival (the held request included) and answers a repeat with the stored Status 000,
 * so exactly one delivery is processed. The
 * prescription ends acknowledged with one `sent` and one `acknowledged` event, and nothing more is
 * sent afterwards.
 */
describe('outbox worker killed with SIGKILL mid-delivery', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-sigkill-'));
  chmodSync(root, 0o755);
  let pki: NetworkPki;
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void> = async () => undefined;
  let serve: ServeProcess | undefined;
  let standIn: Server | undefined;
  /** Every request for the test's prescription that reached the stand-in: its MessageID. */
  const arrivals: string[] = [];
  /** The prescription signed in the test (PrescriberOrderNumber), once known. */
  let seededOrders = new Set<string>();
  /**
   * What the stand-in processed, like every real receiver: each (From, MessageID) once, on its
   * first arrival (the held one included); a repeat gets the stored answer and is not processed.
   */
  const answers = new Map<string, string>();
  /** The test prescription's processed deliveries (MessageIDs), in order. */
  const processed: string[] = [];
  let hold = true;
  let seed: Seed;
  let auth: Authenticator;
  let api: Api;

  const file = (name: string, text: string, mode = 0o644): string => {
    const path = join(root, name);
    writeFileSync(path, text, { mode });
    return path;
  };

  beforeAll(async () => {
    pki = await networkPki();
    // The switch stand-in: holds the first request open; afterwards answers each message once.
    standIn = createMtlsServer({
      key: pki.switchCert.keyPem,
      cert: pki.switchCert.certPem,
      clientCa: pki.ca.certPem,
      handler: (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const parsed = parseMessage(Buffer.concat(chunks));
          if (!parsed.ok) {
            res.writeHead(400).end();
            return;
          }
          const m = parsed.message;
          // The demo seed's own signed NewRx is answered at once; the test's is held once.
          const ours = !seededOrders.has(m.header.prescriberOrderNumber ?? '');
          if (ours) arrivals.push(m.header.messageId);
          const key = `${m.header.from.id}|${m.header.messageId}`;
          let answer = answers.get(key);
          if (answer === undefined) {
            // Processed now, whether or not the sender lives to read the answer.
            if (ours) processed.push(m.header.messageId);
            answer = buildMessage({
              type: 'Status',
              header: {
                to: m.header.from,
                from: m.header.to,
                messageId: scriptId(randomUUID()),
                relatesToMessageId: m.header.messageId,
                sentTime: new Date().toISOString(),
                senderSoftware: { developer: 'Test', product: 'Pharmacy', version: '1' },
              },
              body: { code: '000' },
            });
            answers.set(key, answer);
          }
          if (ours && hold) return; // processed but never answered: the sender dies waiting
          res.writeHead(200, { 'content-type': 'application/xml' });
          res.end(answer);
        });
      },
    });
    const server = standIn;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/ncpdp/script`;

    const isolated = await isolatedEnv(join(root, 'clinic'), {
      SCRIP_HOST: '127.0.0.1',
      SCRIP_NETWORK_CA_FILE: file('ca.pem', pki.ca.certPem),
      SCRIP_NETWORK_WORKER_INTERVAL_MS: '200',
      SCRIP_NETWORK_LEASE_SECONDS: '30',
    });
    env = isolated.env;
    drop = isolated.drop;
    const seeded = await runScrip(['demo', 'seed', '--out', join(root, 'seed.json')], env);
    expect(seeded.code, seeded.stderr).toBe(0);
    seed = JSON.parse(readFileSync(join(root, 'seed.json'), 'utf8')) as Seed;
    seededOrders = new Set(seed.prescriptions.map((p) => p.id.replace(/-/g, '')));
    const tenant = seed.tenants.find((t) => t.kind === 'clinic')?.id ?? '';
    const set = await runScrip(
      [
        'network',
        'identity',
        'set',
        '--tenant',
        tenant,
        '--id',
        `D:${CLINIC_ID}`,
        '--cert',
        file('clinic.pem', pki.clinicClient.certPem),
        '--key',
        file('clinic.key', pki.clinicClient.keyPem, 0o600),
        '--switch',
        url,
        '--pin',
        pinOf(pki.switchCert.certPem),
      ],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    // The pharmacy the NewRx is addressed to, in the clinic's directory.
    const directory = file(
      'directory.jsonl',
      `${JSON.stringify(pharmacyRow(PHARMACY, { endpointUrl: url, pins: { primary: pinOf(pki.switchCert.certPem) } }))}\n`,
    );
    auth = new Authenticator(Math.floor(Date.now() / 30_000) + 1);
    await importDirectory(env, seed, directory, auth);
    serve = await startServe(env);
    // The BAA gate: the switch's endpoint covered and enabled (the seed's own NewRx, held until
    // now, backs off; the test signs its own below).
    const officer = seed.users.find((u) => u.role === 'compliance_officer') as SeedUser;
    api = apiOf(serve, join(root, 'clinic'));
    await enableNetwork(
      await Session.open(api, officer.email, officer.password, await auth.code(officer.totpSecret)),
      endpointRef(url),
    );
  }, 300_000);

  afterAll(async () => {
    await serve?.stop('SIGTERM');
    const s = standIn;
    if (s !== undefined) {
      await new Promise<void>((resolve) => {
        s.close(() => {
          resolve();
        });
        s.closeAllConnections();
      });
    }
    await drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('re-sends the same MessageID after the restart; processed once, acknowledged once, nothing lost', async () => {
    const prescriber = seed.users.find((u) => u.userId === seed.prescriber.userId) as SeedUser;
    let doc = await Session.open(
      api,
      prescriber.email,
      prescriber.password,
      await auth.code(prescriber.totpSecret),
    );
    const patientId = seed.patientIds[0] ?? '';
    const draft = await doc.ok<{ id: string }>('POST', '/api/v1/prescriptions', {
      patientId,
      rxcui: ACETAMINOPHEN,
      quantity: { value: 20, unit: 'tablet' },
      daysSupply: 5,
      sig: 'Take 1 tablet by mouth every 6 hours as needed',
      refills: 0,
      substitutionAllowed: true,
      pharmacyNcpdpId: PHARMACY,
      practice: {
        name: 'Demo Clinic',
        line: '400 Main Street',
        city: 'Sacramento',
        state: 'CA',
        postalCode: '95814',
      },
    });
    await doc.ok('POST', `/api/v1/prescriptions/${draft.id}/ready`, {});
    await doc.ok('POST', '/api/v1/auth/step-up', {
      action: 'rx.sign',
      totp: await auth.code(prescriber.totpSecret),
    });
    await doc.ok('POST', `/api/v1/prescriptions/${draft.id}/sign`);

    // The first delivery is in flight (held by the stand-in): kill the sender outright.
    await until(
      () => arrivals.length === 1,
      60_000,
      `the first delivery\n${serve?.output() ?? ''}`,
    );
    const killed = serve;
    expect(await killed?.stop('SIGKILL')).toBeNull();
    hold = false;

    serve = await startServe(env);
    api = apiOf(serve, join(root, 'clinic'));
    // The lease of the killed worker's claim expires (30 s); the new process sends it again.
    await until(() => arrivals.length === 2, 200_000, `the re-delivery\n${serve.output()}`);
    expect(arrivals[1]).toBe(arrivals[0]);
    // The held delivery was processed; its re-delivery got the stored answer, not a second run.
    expect(processed).toEqual([arrivals[0]]);

    doc = await Session.open(
      api,
      prescriber.email,
      prescriber.password,
      await auth.code(prescriber.totpSecret),
    );
    type Timeline = { status: string; events: { event: string; messageId: string | null }[] };
    const timeline = (): Promise<Timeline> =>
      doc.ok<Timeline>('GET', `/api/v1/prescriptions/${draft.id}/delivery`);
    await until(async () => (await timeline()).status === 'acknowledged', 30_000, 'acknowledged');
    // A few more worker runs: nothing else goes out.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(arrivals).toHaveLength(2);
    expect(processed).toHaveLength(1);
    const events = (await timeline()).events;
    expect(events.filter((e) => e.event === 'sent')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'acknowledged')).toHaveLength(1);
    expect(events.filter((e) => e.event === 'failed' || e.event === 'error')).toEqual([]);
  }, 360_000);
});
