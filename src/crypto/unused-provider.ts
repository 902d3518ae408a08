import { AppError } from '../core/index.js';
import type { KeyProvider } from './key-provider.js';

/** A provider for code paths that must never touch keys (e.g. `scrip routes`): every call fails. */
export function unusedProvider(): KeyProvider {
  const fail = (): never => {
    throw new AppError('unavailable', 'no key provider in this context');
  };
  return {
    kind: 'local',
    currentKekVersion: async () => fail(),
    wrap: async () => fail(),
    unwrap: async () => fail(),
    rewrap: async () => fail(),
    rotateKek: async () => fail(),
    destroyKekVersion: async () => fail(),
    generateSigningKey: async () => fail(),
    sign: async () => fail(),
    getSigningPublicKey: async () => fail(),
    listSigningKeys: async () => fail(),
    describe: () => fail(),
    close: async () => undefined,
  };
}
