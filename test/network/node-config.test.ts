import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

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
});
