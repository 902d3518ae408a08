import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { buildJwks } from '../crypto/jws.js';
import { assertParticipant } from './participants.js';

const PIN_A = `${'A'.repeat(43)}=`;
const PIN_B = `${'B'.repeat(43)}=`;
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWKS = buildJwks([{ publicKey, kid: 'k1' }]);

const pharmacy = {
  id: 'pharmacy-1',
  kind: 'pharmacy',
  addresses: ['P:1234567'],
  endpointUrl: 'https://rx.example.test/ncpdp/script',
  serverPins: { primary: PIN_A, backup: PIN_B },
  clientPins: { primary: PIN_B },
  serviceLevels: ['controlled', 'new'],
};
const clinic = {
  ...pharmacy,
  id: 'clinic-1',
  kind: 'prescriber_system',
  addresses: ['D:CLINIC-01'],
  jwks: JWKS,
};

function field(v: unknown): string | undefined {
  try {
    assertParticipant(v);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err.detail;
    throw err;
  }
}

describe('switch participant registry file', () => {
  it('accepts a pharmacy and a prescriber system, ordering service levels', () => {
    expect(assertParticipant(pharmacy)).toMatchObject({
      addresses: [{ qualifier: 'P', value: '1234567' }],
      serviceLevels: ['new', 'controlled'],
    });
    expect(assertParticipant(clinic).jwks).toEqual(JWKS);
  });

  it('refuses what it cannot route or trust, naming the field', () => {
    expect(field({ ...pharmacy, addresses: ['D:CLINIC-01'] })).toBe('addresses'); // wrong kind
    expect(field({ ...pharmacy, addresses: ['P:12345'] })).toBe('addresses');
    expect(field({ ...pharmacy, addresses: [] })).toBe('addresses');
    expect(field({ ...pharmacy, endpointUrl: 'http://rx.example.test/' })).toBe('endpointUrl');
    expect(field({ ...pharmacy, serverPins: { primary: 'nope' } })).toBe('serverPins.primary');
    expect(field({ ...pharmacy, clientPins: { primary: PIN_A, backup: PIN_A } })).toBe(
      'clientPins.backup',
    );
    expect(field({ ...pharmacy, serviceLevels: ['new', 'everything'] })).toBe('serviceLevels');
    expect(field({ ...pharmacy, jwks: JWKS })).toBe('jwks');
    expect(field({ ...clinic, jwks: undefined })).toBe('jwks');
    // A private key in the JWKS is refused (public keys only).
    const priv = { ...privateKey.export({ format: 'jwk' }), kid: 'k1' };
    expect(field({ ...clinic, jwks: { keys: [priv] } })).toBe('jwks');
    expect(field({ ...pharmacy, extra: 1 })).toBe('extra');
  });
});
