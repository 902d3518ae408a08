import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMessage } from '../../src/network/ncpdp-script.codec.js';
import {
  isolatedEnv,
  runScrip,
  scripBin,
  startServe,
  type ServeProcess,
} from '../serve-process.js';
import {
  clinicParticipant,
  ncpdpId,
  networkPki,
  newRx,
  pharmacyParticipant,
  rxDoc,
  sendTo,
  signedNewRx,
  signingKey,
  TestEndpoint,
  until,
  type NetworkPki,
} from './switch-harness.js';

const CLINIC = 'CLINIC-PROC-01';

/** `scrip switch` as its own process (built bin, own data dir and database). */
describe('scrip switch process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scrip-switch-'));
  let pki: NetworkPki;
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void> = async () => undefined;
  let child: ChildProcess | undefined;
  let output = '';
  let clinicInbound: TestEndpoint;
  let pharmacy: TestEndpoint;
  const key = signingKey();
  const PHARMACY = ncpdpId();

  beforeAll(async () => {
    // The embedded database may run as another user: it must be able to traverse to ./data.
    chmodSync(dir, 0o711);
    pki = await networkPki();
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    clinicInbound = new TestEndpoint(pki.clinicServer, pki.ca, { qualifier: 'D', id: CLINIC });
    pharmacy = new TestEndpoint(pki.pharmacyServer, pki.ca, { qualifier: 'P', id: PHARMACY });
    await Promise.all([clinicInbound.start(), pharmacy.start()]);
    ({ env, drop } = await isolatedEnv(join(dir, 'data'), {
      SCRIP_SWITCH_PORT: '0',
      SCRIP_SWITCH_TLS_CERT_FILE: file('switch.pem', pki.switchCert.certPem),
      SCRIP_SWITCH_TLS_KEY_FILE: file('switch.key', pki.switchCert.keyPem),
      SCRIP_SWITCH_CLIENT_CA_FILE: file('ca.pem', pki.ca.certPem),
      SCRIP_SWITCH_BACKOFF_BASE_MS: '100',
      SCRIP_SWITCH_BACKOFF_MAX_MS: '500',
      SCRIP_AUDIT_CHECKPOINT_RECORDS: '1',
    }));
    const registry = file(
      'participants.json',
      JSON.stringify(
        [
          clinicParticipant(pki, CLINIC, clinicInbound, key.jwks),
          pharmacyParticipant(pki, PHARMACY, pharmacy, ['new', 'cancel', 'controlled']),
        ].map((x) => ({ ...x, addresses: x.addresses.map((a) => `${a.qualifier}:${a.value}`) })),
      ),
    );
    const added = await runScrip(['switch', 'participants', 'add', registry], env);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toEqual([
      { id: `clinic-${CLINIC.toLowerCase()}`, result: 'created' },
      { id: `pharmacy-${PHARMACY}`, result: 'created' },
    ]);
    // (Before the switch starts: a CLI on an external database does not run beside it.)
    const list = await runScrip(['switch', 'participants', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
  }, 180_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([clinicInbound.stop(), pharmacy.stop()]);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start without its TLS settings, naming the key', async () => {
    const bare = { ...env };
    delete bare.SCRIP_SWITCH_CLIENT_CA_FILE;
    const r = await runScrip(['switch'], bare);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('SCRIP_SWITCH_CLIENT_CA_FILE');
  });

  it('carries a signed Schedule II NewRx to the pharmacy and relays its Status 000', async () => {
    const proc = spawn(process.execPath, [scripBin(), 'switch'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    await until(
      () => /listening on https:\/\/[^\s]+:\d+/.test(output),
      90_000,
      `start:\n${output}`,
    );
    const port = Number(/listening on https:\/\/[^\s]+:(\d+)/.exec(output)?.[1]);
    const url = `https://localhost:${String(port)}/ncpdp/script`;

    const rxId = randomUUID();
    const m = newRx(CLINIC, PHARMACY, true, rxId);
    const jws = await key.sign(rxDoc(rxId, PHARMACY, 'CII'));
    const answer = await sendTo(url, pki.clinicClient, pki, buildMessage(m), jws);
    expect(answer.http).toBe(200);
    expect(answer.message.body).toMatchObject({ code: '010' });
    await until(() => pharmacy.byMessageId(m.header.messageId).length === 1, 20_000, 'delivery');
    expect(pharmacy.byMessageId(m.header.messageId)[0]?.jws).toBe(jws);
    await until(
      () =>
        clinicInbound.received.some(
          (r) =>
            r.message.header.relatesToMessageId === m.header.messageId &&
            r.message.type === 'Status',
        ),
      20_000,
      'relay',
    );
    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => {
      if (proc.exitCode !== null) resolve(proc.exitCode);
      else proc.once('exit', resolve);
    });
    expect(code).toBe(0);

    // The switch's log verifies with the ordinary command over its database.
    const verify = await runScrip(['audit', 'verify', '--json'], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
  }, 180_000);
});

/** `scrip serve` with SCRIP_LOCAL_SWITCH=on runs the same switch over its own database. */
describe('scrip serve with the local switch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scrip-local-switch-'));
  let serve: ServeProcess | undefined;
  let drop: () => Promise<void> = async () => undefined;
  let pharmacy: TestEndpoint;
  let clinicInbound: TestEndpoint;

  afterAll(async () => {
    await serve?.stop();
    await Promise.all([pharmacy.stop(), clinicInbound.stop()]);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes a NewRx between two participants of one installation', async () => {
    chmodSync(dir, 0o711);
    const pki = await networkPki();
    const key = signingKey();
    const ph = ncpdpId();
    const clinic = 'CLINIC-LOCAL-01';
    pharmacy = new TestEndpoint(pki.pharmacyServer, pki.ca, { qualifier: 'P', id: ph });
    clinicInbound = new TestEndpoint(pki.clinicServer, pki.ca, { qualifier: 'D', id: clinic });
    await Promise.all([pharmacy.start(), clinicInbound.start()]);
    const file = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    let env: NodeJS.ProcessEnv;
    ({ env, drop } = await isolatedEnv(join(dir, 'data'), {
      SCRIP_LOCAL_SWITCH: 'on',
      SCRIP_SWITCH_PORT: '0',
      SCRIP_SWITCH_TLS_CERT_FILE: file('switch.pem', pki.switchCert.certPem),
      SCRIP_SWITCH_TLS_KEY_FILE: file('switch.key', pki.switchCert.keyPem),
      SCRIP_SWITCH_CLIENT_CA_FILE: file('ca.pem', pki.ca.certPem),
    }));
    const registry = file(
      'participants.json',
      JSON.stringify(
        [
          clinicParticipant(pki, clinic, clinicInbound, key.jwks),
          pharmacyParticipant(pki, ph, pharmacy, ['new']),
        ].map((x) => ({ ...x, addresses: x.addresses.map((a) => `${a.qualifier}:${a.value}`) })),
      ),
    );
    const added = await runScrip(['switch', 'participants', 'add', registry], env);
    expect(added.code, added.stderr).toBe(0);
    serve = await startServe(env);
    const started = serve;
    await until(() => /local switch listening/.test(started.output()), 30_000, 'local switch');
    const port = Number(/"url":"https:\/\/[^"]+:(\d+)\/ncpdp\/script"/.exec(started.output())?.[1]);
    const { m, xml, jws } = await signedNewRx(key, clinic, ph, false);
    const a = await sendTo(
      `https://localhost:${String(port)}/ncpdp/script`,
      pki.clinicClient,
      pki,
      xml,
      jws,
    );
    expect(a.message.body).toMatchObject({ code: '010' });
    await until(() => pharmacy.byMessageId(m.header.messageId).length === 1, 20_000, 'delivery');
  }, 180_000);
});
