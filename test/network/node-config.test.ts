import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock } from '../../src/core/index.js';
import { networkTiming } from '../../src/network/network-timing.js';
import { freshTenant } from '../db.js';
import { testPlatform } from '../platform.js';

describe('network node configuration', () => {
  it('is off by default', () => {
    const c = loadConfig({});
    expect(c.SCRIP_NETWORK_PORT).toBe(0);
    expect(c.SCRIP_NETWORK_WORKER_INTERVAL_MS).toBe(1000);
  });

  it('a listener port needs its certificate, key and CA, named in the error', () => {
    expect(() => loadConfig({ SCRIP_NETWORK_PORT: '9443', SCRIP_LOCAL_NETWORK: 'off' })).toThrow(
      /SCRIP_NETWORK_PORT/,
    );
    // The one-machine network provides the three files itself (docs/network.md "One machine").
    expect(
      loadConfig({ SCRIP_NETWORK_PORT: '9443', SCRIP_LOCAL_NETWORK: 'on' }).SCRIP_NETWORK_PORT,
    ).toBe(9443);
    const c = loadConfig({
      SCRIP_NETWORK_PORT: '9443',
      SCRIP_NETWORK_TLS_CERT_FILE: '/etc/scrip/net.crt',
      SCRIP_NETWORK_TLS_KEY_FILE: '/etc/scrip/net.key',
      SCRIP_NETWORK_CA_FILE: '/etc/scrip/ca.pem',
    });
    expect(c.SCRIP_NETWORK_PORT).toBe(9443);
  });

  it('refuses a peer pin that is not an SPKI SHA-256 value', () => {
    expect(() => loadConfig({ SCRIP_NETWORK_PEER_PINS: 'not-a-pin' })).toThrow(
      /SCRIP_NETWORK_PEER_PINS/,
    );
    const pin = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ SCRIP_NETWORK_PEER_PINS: `${pin},${pin}` }).SCRIP_NETWORK_PEER_PINS).toBe(
      `${pin},${pin}`,
    );
  });

  it('the outbox deadline and back-off are settings; a maximum below the base is refused by name', () => {
    expect(networkTiming(loadConfig({}))).toEqual({
      deadlineMs: 24 * 3_600_000,
      leaseMs: 120_000,
      baseBackoffMs: 5_000,
      maxBackoffMs: 900_000,
    });
    const c = loadConfig({
      SCRIP_NETWORK_DEADLINE_HOURS: '6',
      SCRIP_NETWORK_BACKOFF_BASE_MS: '250',
      SCRIP_NETWORK_BACKOFF_MAX_MS: '60000',
    });
    expect(networkTiming(c)).toMatchObject({
      deadlineMs: 6 * 3_600_000,
      baseBackoffMs: 250,
      maxBackoffMs: 60_000,
    });
    expect(() => loadConfig({ SCRIP_NETWORK_DEADLINE_HOURS: '0' })).toThrow(
      /SCRIP_NETWORK_DEADLINE_HOURS/,
    );
    expect(() =>
      networkTiming(
        loadConfig({ SCRIP_NETWORK_BACKOFF_BASE_MS: '5000', SCRIP_NETWORK_BACKOFF_MAX_MS: '1000' }),
      ),
    ).toThrow(/SCRIP_NETWORK_BACKOFF_MAX_MS/);
  });

  it('the composed platform queues messages with the configured deadline', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
    const p = await testPlatform(clock, { config: { SCRIP_NETWORK_DEADLINE_HOURS: '3' } });
    try {
      const tenant = await freshTenant(p.db, 'Deadline clinic');
      const deadline = await p.db.withTenant(tenant, async (tx) => {
        const id = await p.network.outbox.enqueueAny(tx, tenant, {
          type: 'Status',
          to: { qualifier: 'P', value: '1234567' },
          from: { qualifier: 'D', value: 'CLINIC-DEADLINE' },
          messageId: 'DEADLINE0001',
          xml: '<Message/>',
        });
        const { rows } = await tx.query<{ deadline_at: Date }>(
          'SELECT deadline_at FROM network_outbox WHERE id = $1',
          [id],
        );
        return rows[0]!.deadline_at;
      });
      expect(deadline.getTime() - clock.now().getTime()).toBe(3 * 3_600_000);
    } finally {
      await p.close();
    }
  });
});
