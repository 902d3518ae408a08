import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert, type IssuedCert } from '../../src/crypto/x509.js';
import { deliver, DeliveryError, spkiSha256 } from '../../src/network/mtls.js';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { SCRIP_SOFTWARE } from '../../src/network/newrx-message.js';
import { isolatedEnv, runScrip, startServe, type ServeProcess } from '../serve-process.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
  });
}

const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

/**
 * `scrip network identity set|show` and the listener inside a real `scrip serve`: a message To the
 * clinic's address reaches the clinic's handlers over mTLS; an unpinned client is refused.
 */
describe('scrip serve with the network listener', () => {
  const root = mkdtempSync(join(tmpdir(), 'scrip-net-'));
  // The embedded database's user must traverse it; the key files themselves are 0600.
  chmodSync(root, 0o755);
  let server: ServeProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv;
  let tenant: string;
  let shown: { code: number | null; stdout: string; stderr: string };
  let port: number;
  let ca: IssuedCert;
  let listenerCert: IssuedCert;
  let switchCert: IssuedCert;
  let stranger: IssuedCert;

  beforeAll(async () => {
    ca = await createCa('E2E network CA', 2);
    listenerCert = await issueCert(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      days: 1,
    });
    switchCert = await issueCert(ca, { commonName: 'switch', usage: 'client', days: 1 });
    stranger = await issueCert(ca, { commonName: 'stranger', usage: 'client', days: 1 });
    const clinicCert = await issueCert(ca, { commonName: 'clinic', usage: 'client', days: 1 });
    const files = {
      ca: join(root, 'ca.pem'),
      cert: join(root, 'listener.pem'),
      key: join(root, 'listener.key'),
      clinicCert: join(root, 'clinic.pem'),
      clinicKey: join(root, 'clinic.key'),
    };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.cert, listenerCert.certPem);
    writeFileSync(files.key, listenerCert.keyPem, { mode: 0o600 });
    writeFileSync(files.clinicCert, clinicCert.certPem);
    writeFileSync(files.clinicKey, clinicCert.keyPem, { mode: 0o600 });
    port = await freePort();
    const isolated = await isolatedEnv(join(root, 'data'), {
      SCRIP_HOST: '127.0.0.1',
      SCRIP_NETWORK_PORT: String(port),
      SCRIP_NETWORK_TLS_CERT_FILE: files.cert,
      SCRIP_NETWORK_TLS_KEY_FILE: files.key,
      SCRIP_NETWORK_CA_FILE: files.ca,
      SCRIP_NETWORK_PEER_PINS: pinOf(switchCert.certPem),
    });
    env = isolated.env;
    drop = isolated.drop;
    const created = await runScrip(['tenants', 'create', '--name', 'Network Clinic'], env);
    expect(created.code, created.stderr).toBe(0);
    tenant = created.stdout.split('\n')[0] ?? '';
    const set = await runScrip(
      [
        'network',
        'identity',
        'set',
        '--tenant',
        tenant,
        '--id',
        'D:E2E-CLINIC',
        '--cert',
        files.clinicCert,
        '--key',
        files.clinicKey,
      ],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).not.toContain('PRIVATE KEY');
    // Before serve: with an external database a CLI cannot share the data directory's lock.
    shown = await runScrip(['network', 'identity', 'show', '--tenant', tenant], env);
    server = await startServe(env);
  }, 240_000);
  afterAll(async () => {
    await server?.stop('SIGTERM');
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  const status = (to: string) =>
    buildMessage({
      type: 'Status',
      header: {
        to: { qualifier: 'D', id: to },
        from: { qualifier: 'P', id: '1234567' },
        messageId: 'E2E0001',
        relatesToMessageId: 'ffffffffffffffffffffffffffffffff',
        sentTime: new Date().toISOString(),
        senderSoftware: SCRIP_SOFTWARE,
      },
      body: { code: '000' },
    });
  const send = (xml: string, as: IssuedCert) =>
    deliver(`https://127.0.0.1:${String(port)}/ncpdp/script`, xml, {
      clientKey: as.keyPem,
      clientCert: as.certPem,
      ca: ca.certPem,
      pins: [pinOf(listenerCert.certPem)],
    });

  it('dispatches To the clinic address to its handlers, and refuses an unpinned client', async () => {
    const res = await send(status('E2E-CLINIC'), switchCert);
    // Reached the clinic's Status handler: no such prescription (not "unknown recipient").
    expect(res.status).toBe(400);
    const answer = parseMessage(res.body);
    expect(answer.ok && answer.message.type === 'Error' && answer.message.body.description).toBe(
      'unknown prescription',
    );
    const other = await send(status('NOT-HERE'), switchCert);
    const unknown = parseMessage(other.body);
    expect(unknown.ok && unknown.message.type === 'Error' && unknown.message.body.description).toBe(
      'unknown recipient',
    );
    await expect(send(status('E2E-CLINIC'), stranger)).rejects.toBeInstanceOf(DeliveryError);
  });

  it('shows the identity without key material', () => {
    expect(shown.code, shown.stderr).toBe(0);
    const list = JSON.parse(shown.stdout) as { address: string; qualifier: string }[];
    expect(list).toMatchObject([{ qualifier: 'D', address: 'E2E-CLINIC' }]);
    expect(shown.stdout).not.toContain('PRIVATE KEY');
  });
});
