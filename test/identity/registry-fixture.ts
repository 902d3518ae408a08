import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { localEs256Signer } from '../../src/crypto/jws.js';
import { demoDea, demoNpi } from '../../src/cli/demo-seed.js';
import {
  REGISTRY_FORMAT,
  signRegistryFile,
  type DeaSchedule,
  type RegistryPayload,
} from '../../src/identity/index.js';

export interface Practitioner {
  readonly lastName: string;
  readonly npi: string;
  readonly dea: string;
  readonly licence: string;
  readonly state: string;
  readonly schedules: readonly DeaSchedule[];
  readonly deaExpiresOn: string;
  readonly licenceExpiresOn: string;
}

export function practitioner(
  lastName: string,
  base9: string,
  digits6: string,
  extra: Partial<Practitioner> = {},
): Practitioner {
  return {
    lastName,
    npi: demoNpi(base9),
    dea: demoDea(lastName, digits6),
    licence: `LIC-${digits6}`,
    state: 'CA',
    schedules: ['2', '2N', '3', '3N', '4', '5'],
    deaExpiresOn: '2028-12-31',
    licenceExpiresOn: '2028-12-31',
    ...extra,
  };
}

export function payloadFor(
  people: readonly Practitioner[],
  source = 'test-registry',
  issuedAt = '2026-02-01T00:00:00Z',
): RegistryPayload {
  return {
    format: REGISTRY_FORMAT,
    source,
    issuedAt,
    npi: people.map((p) => ({ npi: p.npi, lastName: p.lastName, status: 'active' })),
    dea: people.map((p) => ({
      deaNumber: p.dea,
      registrantLastName: p.lastName,
      npi: p.npi,
      schedules: [...p.schedules],
      state: p.state,
      expiresOn: p.deaExpiresOn,
      status: 'active',
    })),
    licences: people.map((p) => ({
      state: p.state,
      number: p.licence,
      lastName: p.lastName,
      npi: p.npi,
      expiresOn: p.licenceExpiresOn,
      status: 'active',
    })),
  };
}

export interface RegistryKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  sign(payload: RegistryPayload): Promise<string>;
}

export function registryKey(kid = 'registry-test'): RegistryKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    privateKey,
    sign: (payload) => signRegistryFile(payload, localEs256Signer(privateKey), kid),
  };
}
