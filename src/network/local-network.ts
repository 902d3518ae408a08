/**
 * The one-machine network (issue 8 item 7; docs/network.md "One machine"): on the embedded
 * default, `scrip serve` runs the network listener and a local switch on loopback, with
 * certificates issued by the installation's local CA (`<dataDir>/tls`, src/crypto/local-tls.ts).
 * A clinic tenant and a pharmacy tenant of the installation then exchange messages over the same
 * mutual-TLS path as in production: clinic outbox → switch → listener → pharmacy, and back.
 *
 * The certificates live in `<dataDir>/network` (0700; keys 0600), are created once and reused,
 * and are renewed from the same CA when they near expiry or when the CA changed. `scrip demo seed`
 * calls the same code, so it works whether or not `scrip serve` ran before.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertPrivateFile,
  ensurePrivateDir,
  localNetworkEnabled,
  writePrivateFile,
  type Config,
} from '../config/index.js';
import { AppError } from '../core/index.js';
import { ensureLocalTls } from '../crypto/local-tls.js';
import { daysUntilExpiry, issueCert, type IssuedCert } from '../crypto/x509.js';
import { spkiSha256 } from './mtls.js';

/** The listener's port when SCRIP_NETWORK_PORT is left at 0 (off) and the local network is on. */
export const LOCAL_NODE_PORT = 9444;
const LOOPBACK = '127.0.0.1';
const DAYS = 397;
const RENEW_BEFORE_DAYS = 30;

export interface LocalNetwork {
  /**
   * The configuration for the network node and the local switch: their settings filled in
   * (explicit ones kept) and SCRIP_HOST = 127.0.0.1 for the listener. Not for the HTTPS app.
   */
  readonly config: Config;
  /** The local CA (certificate and key): issues the tenants' client certificates. */
  readonly ca: IssuedCert;
  /** The node listener: `https://127.0.0.1:<port>/ncpdp/script` and its server pin. */
  readonly nodeUrl: string;
  readonly nodePin: string;
  /** The local switch: its URL, its server pin, the pin of the client key it delivers with. */
  readonly switchUrl: string;
  readonly switchPin: string;
  readonly switchClientPin: string;
}

const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

function writeReplacing(path: string, content: string): void {
  const tmp = `${path}.new`;
  writePrivateFile(tmp, content);
  renameSync(tmp, path);
}

/** Reuses `<name>.pem` / `<name>-key.pem` while valid and issued by `ca`; issues it otherwise. */
async function ensureCert(
  dir: string,
  name: string,
  ca: IssuedCert,
  req: Parameters<typeof issueCert>[1],
): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}-key.pem`);
  if (existsSync(certPath) && existsSync(keyPath)) {
    assertPrivateFile(keyPath);
    const pem = readFileSync(certPath, 'utf8');
    const cert = new X509Certificate(pem);
    const caCert = new X509Certificate(ca.certPem);
    // The key must still be the certificate's (a crash between the two writes leaves a pair
    // that does not match), the certificate the current CA's, and not near its end.
    const keyMatches = createPublicKey(readFileSync(keyPath, 'utf8'))
      .export({ type: 'spki', format: 'der' })
      .equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
    if (
      keyMatches &&
      cert.checkIssued(caCert) &&
      cert.verify(caCert.publicKey) &&
      daysUntilExpiry(pem) >= RENEW_BEFORE_DAYS
    ) {
      return { certPath, keyPath };
    }
  }
  const issued = await issueCert(ca, req);
  writeReplacing(keyPath, issued.keyPem);
  writeReplacing(certPath, issued.certPem);
  return { certPath, keyPath };
}

function readCert(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new AppError('config_invalid', `configuration ${key}: cannot read ${path}`, {
      detail: key,
    });
  }
}

/**
 * Provisions the local network's certificates (once) and returns the effective settings; undefined
 * when the local network is off (SCRIP_LOCAL_NETWORK, production, an external database on auto).
 * Explicit SCRIP_NETWORK_* and SCRIP_SWITCH_* files win over the provisioned ones; both listeners
 * are bound to loopback, on fixed ports (SCRIP_NETWORK_PORT or 9444, SCRIP_SWITCH_PORT) so that
 * `scrip demo seed` knows the URLs without asking the running server.
 */
export async function ensureLocalNetwork(
  config: Config,
  dataDir: string,
): Promise<LocalNetwork | undefined> {
  if (!localNetworkEnabled(config)) return undefined;
  if (config.SCRIP_SWITCH_PORT === 0) {
    throw new AppError(
      'config_invalid',
      'configuration SCRIP_SWITCH_PORT: the local network needs a fixed port (not 0)',
      { detail: 'SCRIP_SWITCH_PORT' },
    );
  }
  const tls = await ensureLocalTls(dataDir);
  const caKeyPath = join(dataDir, 'tls', 'ca-key.pem');
  assertPrivateFile(caKeyPath);
  const ca: IssuedCert = {
    certPem: readFileSync(tls.caPath, 'utf8'),
    keyPem: readFileSync(caKeyPath, 'utf8'),
  };
  createPrivateKey(ca.keyPem); // a damaged CA key fails here, not at the first issue
  const dir = ensurePrivateDir(join(dataDir, 'network'));
  const loopback = { dnsNames: ['localhost'], ipAddresses: [LOOPBACK, '::1'], days: DAYS };
  const node = await ensureCert(dir, 'node', ca, {
    commonName: 'Scrip local network listener',
    usage: 'server',
    ...loopback,
  });
  const sw = await ensureCert(dir, 'switch', ca, {
    commonName: 'Scrip local switch',
    usage: 'server',
    ...loopback,
  });
  const swClient = await ensureCert(dir, 'switch-client', ca, {
    commonName: 'Scrip local switch (client)',
    usage: 'client',
    days: DAYS,
  });

  const nodeCertFile = config.SCRIP_NETWORK_TLS_CERT_FILE ?? node.certPath;
  const switchCertFile = config.SCRIP_SWITCH_TLS_CERT_FILE ?? sw.certPath;
  // An explicit server pair without a client pair: the switch delivers with the server pair.
  const explicitSwitchServer = config.SCRIP_SWITCH_TLS_CERT_FILE !== undefined;
  const switchClientCertFile =
    config.SCRIP_SWITCH_CLIENT_CERT_FILE ??
    (explicitSwitchServer ? switchCertFile : swClient.certPath);
  const switchClientPin = pinOf(readCert('SCRIP_SWITCH_CLIENT_CERT_FILE', switchClientCertFile));
  const nodePort = config.SCRIP_NETWORK_PORT === 0 ? LOCAL_NODE_PORT : config.SCRIP_NETWORK_PORT;
  const effective: Config = Object.freeze({
    ...config,
    SCRIP_HOST: LOOPBACK,
    SCRIP_LOCAL_SWITCH: 'on',
    SCRIP_NETWORK_PORT: nodePort,
    SCRIP_NETWORK_TLS_CERT_FILE: nodeCertFile,
    SCRIP_NETWORK_TLS_KEY_FILE: config.SCRIP_NETWORK_TLS_KEY_FILE ?? node.keyPath,
    SCRIP_NETWORK_CA_FILE: config.SCRIP_NETWORK_CA_FILE ?? tls.caPath,
    // Only the switch connects to the listener.
    SCRIP_NETWORK_PEER_PINS: config.SCRIP_NETWORK_PEER_PINS ?? switchClientPin,
    SCRIP_SWITCH_HOST: LOOPBACK,
    SCRIP_SWITCH_TLS_CERT_FILE: switchCertFile,
    SCRIP_SWITCH_TLS_KEY_FILE: config.SCRIP_SWITCH_TLS_KEY_FILE ?? sw.keyPath,
    ...(explicitSwitchServer
      ? {}
      : {
          SCRIP_SWITCH_CLIENT_CERT_FILE: switchClientCertFile,
          SCRIP_SWITCH_CLIENT_KEY_FILE: config.SCRIP_SWITCH_CLIENT_KEY_FILE ?? swClient.keyPath,
        }),
    SCRIP_SWITCH_CLIENT_CA_FILE: config.SCRIP_SWITCH_CLIENT_CA_FILE ?? tls.caPath,
  });
  return {
    config: effective,
    ca,
    nodeUrl: `https://${LOOPBACK}:${String(nodePort)}/ncpdp/script`,
    nodePin: pinOf(readCert('SCRIP_NETWORK_TLS_CERT_FILE', nodeCertFile)),
    switchUrl: `https://${LOOPBACK}:${String(config.SCRIP_SWITCH_PORT)}/ncpdp/script`,
    switchPin: pinOf(readCert('SCRIP_SWITCH_TLS_CERT_FILE', switchCertFile)),
    switchClientPin,
  };
}
