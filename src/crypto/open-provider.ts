import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { assertPrivateFile } from '../config/index.js';
import type { KeyProvider } from './key-provider.js';
import { LocalKeyProvider } from './local-key-provider.js';
import { Pkcs11KeyProvider } from './pkcs11-key-provider.js';

/** Opens the configured KEK provider. The PIN is read here and handed over, never logged. */
export async function openKeyProvider(config: Config, dataDir: string): Promise<KeyProvider> {
  if (config.SCRIP_KEY_PROVIDER === 'pkcs11') {
    let pin = config.SCRIP_PKCS11_PIN;
    if (pin === undefined && config.SCRIP_PKCS11_PIN_FILE !== undefined) {
      assertPrivateFile(config.SCRIP_PKCS11_PIN_FILE);
      pin = readFileSync(config.SCRIP_PKCS11_PIN_FILE, 'utf8').trim();
    }
    return Pkcs11KeyProvider.open({
      modulePath: config.SCRIP_PKCS11_MODULE ?? '',
      tokenLabel: config.SCRIP_PKCS11_TOKEN_LABEL ?? '',
      pin: pin ?? '',
    });
  }
  return LocalKeyProvider.open({
    keyDir: config.SCRIP_KEY_DIR ?? join(dataDir, 'keys'),
    ...(config.SCRIP_KEK_BASE64 === undefined
      ? {}
      : { kekBase64: config.SCRIP_KEK_BASE64, kekVersion: config.SCRIP_KEK_VERSION }),
    ...(config.SCRIP_KEK_FILE === undefined
      ? {}
      : { kekFile: config.SCRIP_KEK_FILE, kekVersion: config.SCRIP_KEK_VERSION }),
  });
}
