import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagePath } from '../../src/db/index.js';
import { deliver } from '../../src/network/mtls.js';
import { parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { MESSAGE_TYPES } from '../../src/network/ncpdp-script.types.js';
import { startNetworkListener } from '../../src/network/network-listener.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { networkPki, pinOf, type NetworkPki } from '../switch/switch-harness.js';

/**
 * The codec fuzz (ncpdp-fuzz.test.ts) through the wire: malformed SCRIPT bodies sent over mTLS to
 * the node's listener (the platform's own dispatcher) each get HTTP 400 with a SCRIPT Error 900,
 * in bounded time, are audited, and the listener keeps serving.
 */
const fixtures = MESSAGE_TYPES.map((t) =>
  readFileSync(packagePath(`test/fixtures/ncpdp/${t}.xml`), 'utf8'),
);
const HOSTILE = ['<', '&', '<!DOCTYPE x>', '<!--', '<![CDATA[', '&bogus;', '\u0000', '</'];
const RUNS = 60;

describe('network listener fuzzing', () => {
  let p: TestPlatform;
  let pki: NetworkPki;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    p = await testPlatform();
    pki = await networkPki();
    const started = await startNetworkListener(
      {
        key: pki.clinicServer.keyPem,
        cert: pki.clinicServer.certPem,
        clientCa: pki.ca.certPem,
        clientPins: [pinOf(pki.switchCert.certPem)],
        dispatcher: p.network.dispatcher,
      },
      '127.0.0.1',
      0,
    );
    server = started.server;
    url = `https://127.0.0.1:${String(started.port)}/ncpdp/script`;
  }, 120_000);
  afterAll(async () => {
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
      server.closeAllConnections();
    });
    await p.close();
  });

  const refusedCount = (): Promise<number> =>
    p.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM audit_log WHERE action = 'network.inbound.refused'`,
      );
      return Number(rows[0]?.n ?? 0);
    });

  it('answers every malformed body with Error 900 (HTTP 400), audited, and keeps serving', async () => {
    const inputs = fc.sample(
      fc.oneof(
        fc
          .tuple(fc.constantFrom(...fixtures), fc.nat())
          .map(([xml, n]) => xml.slice(0, n % (xml.trimEnd().length - 1))),
        fc
          .tuple(fc.constantFrom(...fixtures), fc.nat(), fc.constantFrom(...HOSTILE))
          .map(([xml, n, s]) => xml.slice(0, n % xml.length) + s + xml.slice(n % xml.length)),
        fc.nat({ max: 2048 }).map((n) => randomBytes(n + 1).toString('latin1')),
      ),
      RUNS,
    );
    const before = await refusedCount();
    let refused = 0;
    for (const body of inputs) {
      if (parseMessage(body).ok) continue; // an insertion can land where it is still valid
      const started = performance.now();
      const res = await deliver(url, Buffer.from(body, 'latin1'), {
        clientKey: pki.switchCert.keyPem,
        clientCert: pki.switchCert.certPem,
        ca: pki.ca.certPem,
        pins: [pinOf(pki.clinicServer.certPem)],
      });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(res.status).toBe(400);
      const answer = parseMessage(res.body);
      expect(answer.ok && answer.message.type).toBe('Error');
      if (answer.ok && answer.message.type === 'Error')
        expect(answer.message.body.code).toBe('900');
      refused += 1;
    }
    expect(refused).toBeGreaterThan(RUNS / 2);
    expect((await refusedCount()) - before).toBeGreaterThanOrEqual(refused);
  }, 180_000);
});
