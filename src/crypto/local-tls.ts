import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writePrivateFile, assertPrivateFile } from '../config/data-dir.js';
import { createCa, daysUntilExpiry, issueCert, type IssuedCert } from './x509.js';

/**
 * The embedded default's TLS: a local CA and a localhost server certificate in `<dataDir>/tls`,
 * generated once and reused (restarts keep the same CA, so a trusted CA stays trusted). The
 * server certificate is renewed from the same CA when it nears expiry.
 */
export interface LocalTls {
  readonly caPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly created: boolean;
}

const SERVER_DAYS = 397; // CA/Browser Forum maximum validity
const RENEW_BEFORE_DAYS = 30;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function writeReplacing(path: string, content: string): void {
  const tmp = `${path}.new`;
  writePrivateFile(tmp, content);
  renameSync(tmp, path);
}

export async function ensureLocalTls(dataDir: string): Promise<LocalTls> {
  const dir = ensurePrivateDir(join(dataDir, 'tls'));
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server-key.pem');
  let created = false;
  let ca: IssuedCert;
  if (existsSync(caPath) && existsSync(caKeyPath)) {
    assertPrivateFile(caKeyPath);
    ca = { certPem: read(caPath), keyPem: read(caKeyPath) };
  } else {
    ca = await createCa(
      `Scrip local CA ${new Date().toISOString().slice(0, 10)}`,
      3650,
      'Scrip (local)',
    );
    writeReplacing(caKeyPath, ca.keyPem);
    writeReplacing(caPath, ca.certPem);
    created = true;
  }
  if (
    created ||
    !existsSync(certPath) ||
    !existsSync(keyPath) ||
    daysUntilExpiry(read(certPath)) < RENEW_BEFORE_DAYS
  ) {
    const server = await issueCert(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      usage: 'server',
      days: SERVER_DAYS,
    });
    writeReplacing(keyPath, server.keyPem);
    writeReplacing(certPath, server.certPem);
    created = true;
  }
  assertPrivateFile(keyPath);
  return { caPath, certPem: read(certPath), keyPem: read(keyPath), created };
}
