import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert, type IssuedCert } from '../crypto/x509.js';
import { createMtlsServer, deliver, DeliveryError, spkiSha256, type MtlsRefusal } from './mtls.js';

interface Pki {
  serverCa: IssuedCert;
  server: IssuedCert;
  clientCa: IssuedCert;
  client: IssuedCert;
  otherCa: IssuedCert;
  otherClient: IssuedCert;
  spare: IssuedCert;
}

async function makePki(): Promise<Pki> {
  const serverCa = await createCa('Test switch CA', 2);
  const clientCa = await createCa('Test participants CA', 2);
  const otherCa = await createCa('Someone else CA', 2);
  const server = await issueCert(serverCa, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    days: 1,
  });
  const spare = await issueCert(serverCa, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    usage: 'server',
    days: 1,
  });
  const client = await issueCert(clientCa, { commonName: 'clinic-01', usage: 'client', days: 1 });
  const otherClient = await issueCert(otherCa, {
    commonName: 'clinic-01',
    usage: 'client',
    days: 1,
  });
  return { serverCa, server, clientCa, client, otherCa, otherClient, spare };
}

const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

describe('mutual TLS with SPKI pinning', () => {
  let pki: Pki;
  let server: https.Server;
  let url: string;
  const requests: { body: string; subject: string }[] = [];
  const refusals: MtlsRefusal[] = [];
  let secureConnections = 0;

  beforeAll(async () => {
    pki = await makePki();
    server = createMtlsServer({
      key: pki.server.keyPem,
      cert: pki.server.certPem,
      clientCa: pki.clientCa.certPem,
      onRefused: (reason) => refusals.push(reason),
      handler: (req, res, peer) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          requests.push({ body: Buffer.concat(chunks).toString(), subject: peer.subject });
          res.writeHead(200, { 'content-type': 'application/xml' });
          res.end('<ok/>');
        });
      },
    });
    server.on('secureConnection', () => {
      secureConnections += 1;
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://localhost:${(server.address() as AddressInfo).port}/script`;
  });
  afterAll(async () => {
    await new Promise<void>((r) =>
      server.close(() => {
        r();
      }),
    );
  });

  const client = (pins: string[]): Parameters<typeof deliver>[2] => ({
    clientKey: pki.client.keyPem,
    clientCert: pki.client.certPem,
    ca: pki.serverCa.certPem,
    pins,
    timeoutMs: 5_000,
  });

  it('spkiSha256 hashes the SubjectPublicKeyInfo DER (stable per key, distinct across keys)', () => {
    const pin = pinOf(pki.server.certPem);
    expect(Buffer.from(pin, 'base64')).toHaveLength(32);
    expect(pin).not.toBe(pinOf(pki.spare.certPem));
    expect(pin).toBe(spkiSha256(new X509Certificate(pki.server.certPem)));
  });

  it('delivers over a pinned connection and names the client', async () => {
    const before = requests.length;
    const res = await deliver(url, '<Message/>', client([pinOf(pki.server.certPem)]));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('<ok/>');
    expect(requests.slice(before)).toEqual([{ body: '<Message/>', subject: 'clinic-01' }]);
  });

  it('accepts the backup pin during rotation', async () => {
    const res = await deliver(
      url,
      'backup',
      client([pinOf(pki.spare.certPem), pinOf(pki.server.certPem)]),
    );
    expect(res.status).toBe(200);
  });

  it('refuses a pin mismatch before the server sees any request', async () => {
    const before = requests.length;
    const err = await deliver(url, 'never sent', client([pinOf(pki.spare.certPem)])).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).reason).toBe('pin_mismatch');
    expect(requests.length).toBe(before);
    expect(requests.some((r) => r.body === 'never sent')).toBe(false);
  });

  it('refuses a server whose name does not match even when the pin does', async () => {
    const port = (server.address() as AddressInfo).port;
    const err = await deliver(
      `https://127.0.0.2:${port}/`,
      'x',
      client([pinOf(pki.server.certPem)]),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
  });

  async function rawRequest(options: https.RequestOptions): Promise<unknown> {
    return new Promise((resolve) => {
      const req = https.request(
        url,
        { method: 'POST', agent: false, ca: pki.serverCa.certPem, ...options },
        (res) => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode);
          });
        },
      );
      req.on('error', (e) => {
        resolve(e);
      });
      req.end('raw');
    });
  }

  it('refuses a client without a certificate: no handler runs, the refusal is reported', async () => {
    const before = requests.length;
    const refusedBefore = refusals.length;
    const result = await rawRequest({});
    expect(result).toBeInstanceOf(Error);
    expect(requests.length).toBe(before);
    await new Promise((r) => setTimeout(r, 50));
    expect(refusals.slice(refusedBefore)).toContain('handshake_failed');
  });

  it('refuses a client certificate from another CA', async () => {
    const before = requests.length;
    const result = await rawRequest({ key: pki.otherClient.keyPem, cert: pki.otherClient.certPem });
    expect(result).toBeInstanceOf(Error);
    expect(requests.length).toBe(before);
  });

  it('refuses TLS 1.1', async () => {
    const before = secureConnections;
    const port = (server.address() as AddressInfo).port;
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: pki.serverCa.certPem,
        key: pki.client.keyPem,
        cert: pki.client.certPem,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', () => {
        resolve('refused');
      });
    });
    expect(outcome).toBe('refused');
    expect(secureConnections).toBe(before);
  });

  it('with client pins, refuses a valid certificate whose key is not pinned', async () => {
    const refused: MtlsRefusal[] = [];
    const withHook = createMtlsServer({
      key: pki.server.keyPem,
      cert: pki.server.certPem,
      clientCa: pki.clientCa.certPem,
      clientPins: [pinOf(pki.spare.certPem)],
      onRefused: (r) => refused.push(r),
      handler: (_req, res) => {
        res.end('should not run');
      },
    });
    await new Promise<void>((r) => withHook.listen(0, '127.0.0.1', r));
    const port = (withHook.address() as AddressInfo).port;
    const err = await deliver(
      `https://localhost:${port}/`,
      'x',
      client([pinOf(pki.server.certPem)]),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(refused).toContain('client_pin_mismatch');
    await new Promise<void>((r) =>
      withHook.close(() => {
        r();
      }),
    );
  });

  it('refuses plain http URLs and empty or malformed pin sets (deny by default)', async () => {
    await expect(
      deliver('http://localhost/', 'x', client([pinOf(pki.server.certPem)])),
    ).rejects.toThrow(TypeError);
    await expect(deliver(url, 'x', client([]))).rejects.toThrow(TypeError);
    await expect(deliver(url, 'x', client(['not-a-pin']))).rejects.toThrow(TypeError);
  });
});
