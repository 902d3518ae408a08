import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../core/index.js';
import { ConfigSchema, SECRET_KEYS, URL_KEYS, type Config } from './schema.js';
import { localNetworkEnabled } from './local-network.js';

type Source = Readonly<Record<string, string | undefined>>;

const KNOWN_KEYS = new Set(Object.keys(ConfigSchema.properties));
const OWN_PREFIX = 'SCRIP_';
const INTEGER_RE = /^-?(0|[1-9][0-9]*)$/;

function invalid(key: string, why: string): AppError {
  return new AppError('config_invalid', `configuration ${key}: ${why}`, { detail: key });
}

/** Turns an environment string into the type the schema declares for `key`. */
function convert(key: string, raw: unknown): unknown {
  const prop = (ConfigSchema.properties as Record<string, { type?: string }>)[key];
  if (typeof raw !== 'string' || prop === undefined) return raw;
  switch (prop.type) {
    case 'integer':
      if (!INTEGER_RE.test(raw.trim())) throw invalid(key, 'must be a whole number');
      return Number(raw.trim());
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0' || v === '') return false;
      throw invalid(key, 'must be true or false');
    }
    case 'object':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw invalid(key, 'must be a JSON object');
      }
    case undefined:
    default:
      return raw;
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw invalid('SCRIP_CONFIG_FILE', `cannot read ${path}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('SCRIP_CONFIG_FILE', `${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('SCRIP_CONFIG_FILE', `${path} must hold a JSON object of settings`);
  }
  for (const key of Object.keys(parsed)) {
    if (!KNOWN_KEYS.has(key)) throw invalid(key, `unknown setting in ${path}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Loads and validates the configuration. Fails fast on the first bad key, naming it; unknown
 * `SCRIP_*` variables are refused too, so a typo cannot silently fall back to a default.
 */
export function loadConfig(env: Source = process.env): Config {
  const merged: Record<string, unknown> = {};
  const file = env.SCRIP_CONFIG_FILE;
  if (file !== undefined && file !== '') Object.assign(merged, readConfigFile(file));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || key === 'SCRIP_CONFIG_FILE') continue;
    if (KNOWN_KEYS.has(key)) {
      if (value !== '') merged[key] = value;
    } else if (key.startsWith(OWN_PREFIX)) {
      throw invalid(key, 'unknown setting');
    }
  }
  for (const key of Object.keys(merged)) merged[key] = convert(key, merged[key]);
  const withDefaults = Value.Default(ConfigSchema, merged);
  const first = Value.Errors(ConfigSchema, withDefaults).First();
  if (first !== undefined) {
    const key = first.path.split('/')[1] ?? '(root)';
    throw invalid(key, first.message);
  }
  const config = withDefaults as Config;
  if (config.SCRIP_LOCAL_NETWORK === 'on' && config.SCRIP_ENV === 'production') {
    throw invalid('SCRIP_LOCAL_NETWORK', 'the one-machine network is refused in production');
  }
  if (
    config.SCRIP_NETWORK_PORT !== 0 &&
    // The one-machine network provides the three files itself (src/network/local-network.ts).
    !localNetworkEnabled(config) &&
    (config.SCRIP_NETWORK_TLS_CERT_FILE === undefined ||
      config.SCRIP_NETWORK_TLS_KEY_FILE === undefined ||
      config.SCRIP_NETWORK_CA_FILE === undefined)
  ) {
    throw invalid(
      'SCRIP_NETWORK_PORT',
      'the network listener needs SCRIP_NETWORK_TLS_CERT_FILE, SCRIP_NETWORK_TLS_KEY_FILE and SCRIP_NETWORK_CA_FILE',
    );
  }
  if ((config.SCRIP_TLS_CERT_FILE === undefined) !== (config.SCRIP_TLS_KEY_FILE === undefined)) {
    throw invalid('SCRIP_TLS_KEY_FILE', 'SCRIP_TLS_CERT_FILE and SCRIP_TLS_KEY_FILE go together');
  }
  if (config.SCRIP_KEY_PROVIDER === 'pkcs11') {
    for (const key of ['SCRIP_PKCS11_MODULE', 'SCRIP_PKCS11_TOKEN_LABEL'] as const) {
      if (config[key] === undefined)
        throw invalid(key, 'is required when SCRIP_KEY_PROVIDER=pkcs11');
    }
    if (config.SCRIP_PKCS11_PIN === undefined && config.SCRIP_PKCS11_PIN_FILE === undefined) {
      throw invalid(
        'SCRIP_PKCS11_PIN',
        'SCRIP_PKCS11_PIN or SCRIP_PKCS11_PIN_FILE is required when SCRIP_KEY_PROVIDER=pkcs11',
      );
    }
  }
  if (config.SCRIP_KEK_FILE !== undefined && config.SCRIP_KEK_BASE64 !== undefined) {
    throw invalid('SCRIP_KEK_BASE64', 'give SCRIP_KEK_FILE or SCRIP_KEK_BASE64, not both');
  }
  if (
    (config.SCRIP_ALERT_WEBHOOK_URL === undefined) !==
    (config.SCRIP_ALERT_WEBHOOK_SECRET === undefined)
  ) {
    throw invalid(
      'SCRIP_ALERT_WEBHOOK_SECRET',
      'SCRIP_ALERT_WEBHOOK_URL and SCRIP_ALERT_WEBHOOK_SECRET go together',
    );
  }
  for (const [cert, key] of [
    ['SCRIP_SWITCH_TLS_CERT_FILE', 'SCRIP_SWITCH_TLS_KEY_FILE'],
    ['SCRIP_SWITCH_CLIENT_CERT_FILE', 'SCRIP_SWITCH_CLIENT_KEY_FILE'],
  ] as const) {
    if ((config[cert] === undefined) !== (config[key] === undefined)) {
      throw invalid(key, `${cert} and ${key} go together`);
    }
  }
  if (config.DATABASE_APP_URL !== undefined && config.DATABASE_URL === undefined) {
    throw invalid('DATABASE_APP_URL', 'requires DATABASE_URL');
  }
  return Object.freeze(config);
}

function maskUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password !== '') url.password = '****';
    return url.toString();
  } catch {
    return '****';
  }
}

/** The effective configuration for display, with secrets and URL passwords masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties) as (keyof Config)[]) {
    const value = config[key];
    if (value === undefined) continue;
    if (SECRET_KEYS.has(key)) out[key] = '****';
    else if (URL_KEYS.has(key) && typeof value === 'string') out[key] = maskUrl(value);
    else out[key] = value;
  }
  return out;
}
