import type { Config } from '../config/index.js';
import { AppError } from '../core/index.js';

/** The network outboxes' timing: send deadline, claim lease and retry back-off. */
export interface NetworkTiming {
  readonly deadlineMs: number;
  readonly leaseMs: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * The timing settings of both outboxes (prescriptions' `outbox` and `network_outbox`), from the
 * validated configuration; a maximum back-off below the base stops the start, naming the key.
 */
export function networkTiming(
  config: Pick<
    Config,
    | 'SCRIP_NETWORK_DEADLINE_HOURS'
    | 'SCRIP_NETWORK_LEASE_SECONDS'
    | 'SCRIP_NETWORK_BACKOFF_BASE_MS'
    | 'SCRIP_NETWORK_BACKOFF_MAX_MS'
  >,
): NetworkTiming {
  if (config.SCRIP_NETWORK_BACKOFF_MAX_MS < config.SCRIP_NETWORK_BACKOFF_BASE_MS) {
    throw new AppError(
      'config_invalid',
      'configuration SCRIP_NETWORK_BACKOFF_MAX_MS: must be at least SCRIP_NETWORK_BACKOFF_BASE_MS',
      { detail: 'SCRIP_NETWORK_BACKOFF_MAX_MS' },
    );
  }
  return {
    deadlineMs: config.SCRIP_NETWORK_DEADLINE_HOURS * 3_600_000,
    leaseMs: config.SCRIP_NETWORK_LEASE_SECONDS * 1000,
    baseBackoffMs: config.SCRIP_NETWORK_BACKOFF_BASE_MS,
    maxBackoffMs: config.SCRIP_NETWORK_BACKOFF_MAX_MS,
  };
}
