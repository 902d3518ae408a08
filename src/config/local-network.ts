import type { Config } from './schema.js';

/**
 * Whether `scrip serve` (and `scrip demo seed`) run the one-machine network (issue 8 item 7):
 * `on`, or `auto` on the embedded default (no DATABASE_URL) outside production. Never in
 * production (an explicit `on` there is refused when the configuration loads).
 */
export function localNetworkEnabled(
  config: Pick<Config, 'SCRIP_LOCAL_NETWORK' | 'DATABASE_URL' | 'SCRIP_ENV'>,
): boolean {
  if (config.SCRIP_ENV === 'production') return false;
  if (config.SCRIP_LOCAL_NETWORK === 'auto') return config.DATABASE_URL === undefined;
  return config.SCRIP_LOCAL_NETWORK === 'on';
}
