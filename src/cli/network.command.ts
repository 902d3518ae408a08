import { readFileSync } from 'node:fs';
import { AppError, asTenantId, isUuid } from '../core/index.js';
import type { Platform } from '../platform.js';
import { printJson } from './output.js';

const USAGE = `usage:
  scrip network identity set --tenant T --id D:<network id>|P:<NCPDP ID> --cert FILE --key FILE [--switch URL --pin PIN [--pin PIN]]
  scrip network identity show --tenant T
`;

/**
 * `scrip network identity set|show` (docs/network.md): a tenant's address on the pharmacy network,
 * the client certificate it presents and the switch it sends through. The key file is read once
 * and sealed with the tenant's data key; it is never printed.
 */
export async function networkCommand(
  p: Pick<Platform, 'network'>,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  const tenant = typeof values.tenant === 'string' ? values.tenant : undefined;
  const verb = rest[0];
  if (sub !== 'identity' || tenant === undefined || (verb !== 'set' && verb !== 'show')) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (!isUuid(tenant)) throw new AppError('validation_failed', '--tenant must be a tenant id');
  const tenantId = asTenantId(tenant);
  if (verb === 'show') {
    printJson(await p.network.identities.list(tenantId));
    return 0;
  }
  const id = typeof values.id === 'string' ? values.id : '';
  const match = /^([DP]):(.+)$/.exec(id);
  const cert = typeof values.cert === 'string' ? values.cert : undefined;
  const key = typeof values.key === 'string' ? values.key : undefined;
  if (match === null || cert === undefined || key === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const pins = Array.isArray(values.pin)
    ? values.pin.filter((v): v is string => typeof v === 'string')
    : [];
  const summary = await p.network.identities.set(
    tenantId,
    {
      qualifier: match[1] === 'P' ? 'P' : 'D',
      address: match[2] ?? '',
      certPem: readFileSync(cert, 'utf8'),
      keyPem: readFileSync(key, 'utf8'),
      switchUrl: typeof values.switch === 'string' ? values.switch : undefined,
      switchPins: pins,
    },
    { kind: 'cli' },
  );
  printJson(summary);
  return 0;
}
