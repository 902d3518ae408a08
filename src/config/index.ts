export { loadConfig, describeConfig } from './load.js';
export { ConfigSchema, SECRET_KEYS, type Config } from './schema.js';
export {
  createCliLogger,
  createLogger,
  loggerOptions,
  safeError,
  REDACT_PATHS,
  type Logger,
} from './logger.js';
export {
  ensurePrivateDir,
  writePrivateFile,
  assertPrivateFile,
  acquireInstanceLock,
  fsyncDir,
  type InstanceLock,
} from './data-dir.js';
export { localNetworkEnabled } from './local-network.js';
