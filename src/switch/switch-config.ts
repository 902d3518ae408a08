import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { AppError } from '../core/index.js';

/** The switch's TLS material (PEM). */
export interface SwitchTls {
  /** Server key and certificate of the switch's listener. */
  readonly key: string;
  readonly cert: string;
  /** CA(s) issuing the participants' client certificates. */
  readonly clientCa: string;
  /** CA(s) issuing the participants' server certificates (where the switch delivers). */
  readonly peerCa: string;
  /** Client key and certificate the switch presents when it delivers. */
  readonly clientKey: string;
  readonly clientCert: string;
}

/** Retry and deadline policy of the store-and-forward worker. */
export interface SwitchPolicy {
  readonly deadlineMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

function invalid(key: string, why: string): AppError {
  return new AppError('config_invalid', `configuration ${key}: ${why}`, { detail: key });
}

function readPem(key: string, path: string | undefined): string {
  if (path === undefined) throw invalid(key, 'is required to run the switch');
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw invalid(key, `cannot read ${path}`);
  }
}

function checkCert(key: string, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw invalid(key, 'is not a PEM certificate');
  }
}

function checkKey(key: string, pem: string): void {
  try {
    createPrivateKey(pem);
  } catch {
    throw invalid(key, 'is not a PEM private key');
  }
}

/**
 * Reads and checks the SCRIP_SWITCH_* files at start (fail fast, naming the key): the server
 * pair and the participants' CA are required; the client pair defaults to the server pair (its
 * certificate then needs both serverAuth and clientAuth), the peer CA to the client CA.
 */
export function loadSwitchTls(config: Config): SwitchTls {
  const cert = readPem('SCRIP_SWITCH_TLS_CERT_FILE', config.SCRIP_SWITCH_TLS_CERT_FILE);
  const key = readPem('SCRIP_SWITCH_TLS_KEY_FILE', config.SCRIP_SWITCH_TLS_KEY_FILE);
  checkCert('SCRIP_SWITCH_TLS_CERT_FILE', cert);
  checkKey('SCRIP_SWITCH_TLS_KEY_FILE', key);
  const clientCa = readPem('SCRIP_SWITCH_CLIENT_CA_FILE', config.SCRIP_SWITCH_CLIENT_CA_FILE);
  checkCert('SCRIP_SWITCH_CLIENT_CA_FILE', clientCa);
  const peerCa =
    config.SCRIP_SWITCH_PEER_CA_FILE === undefined
      ? clientCa
      : readPem('SCRIP_SWITCH_PEER_CA_FILE', config.SCRIP_SWITCH_PEER_CA_FILE);
  checkCert('SCRIP_SWITCH_PEER_CA_FILE', peerCa);
  let clientCert = cert;
  let clientKey = key;
  if (config.SCRIP_SWITCH_CLIENT_CERT_FILE !== undefined) {
    clientCert = readPem('SCRIP_SWITCH_CLIENT_CERT_FILE', config.SCRIP_SWITCH_CLIENT_CERT_FILE);
    clientKey = readPem('SCRIP_SWITCH_CLIENT_KEY_FILE', config.SCRIP_SWITCH_CLIENT_KEY_FILE);
    checkCert('SCRIP_SWITCH_CLIENT_CERT_FILE', clientCert);
    checkKey('SCRIP_SWITCH_CLIENT_KEY_FILE', clientKey);
  }
  return { key, cert, clientCa, peerCa, clientKey, clientCert };
}

export function switchPolicy(config: Config): SwitchPolicy {
  if (config.SCRIP_SWITCH_BACKOFF_MAX_MS < config.SCRIP_SWITCH_BACKOFF_BASE_MS) {
    throw invalid('SCRIP_SWITCH_BACKOFF_MAX_MS', 'must be at least SCRIP_SWITCH_BACKOFF_BASE_MS');
  }
  return {
    deadlineMs: config.SCRIP_SWITCH_DEADLINE_HOURS * 3_600_000,
    baseBackoffMs: config.SCRIP_SWITCH_BACKOFF_BASE_MS,
    maxBackoffMs: config.SCRIP_SWITCH_BACKOFF_MAX_MS,
  };
}
