import { AppError, asTenantId, isUuid, type TenantId } from '../core/index.js';
import { normalizeSsoDomain } from '../identity/index.js';
import type { Platform } from '../platform.js';
import { printJson, printTable } from './output.js';

export const SSO_USAGE =
  'usage: scrip sso domains add DOMAIN --tenant T [--actor NAME] | list --tenant T [--json] | remove DOMAIN --tenant T\n';

function tenantOf(values: Record<string, unknown>): TenantId {
  const tenant = typeof values.tenant === 'string' ? values.tenant : '';
  if (!isUuid(tenant)) throw new AppError('validation_failed', '--tenant must be a tenant id');
  return asTenantId(tenant);
}

/**
 * `scrip sso domains add|list|remove`: the email domains whose users the sign-in page sends to
 * the tenant's OpenID Connect IdP (home-realm discovery). An operator's command, not a tenant
 * administrator's: verify out of band (a DNS TXT record, a signed letter) that the tenant's
 * organisation owns the domain before adding it. A domain names one tenant in the installation.
 * Audited in the tenant's log (`sso.domain.added`, `sso.domain.removed`).
 */
export async function ssoCommand(
  p: Pick<Platform, 'identity'>,
  sub: string | undefined,
  rest: readonly string[],
  values: Record<string, unknown>,
): Promise<number> {
  const [action, domain] = rest;
  if (sub !== 'domains') {
    process.stderr.write(SSO_USAGE);
    return 2;
  }
  const domains = p.identity.ssoDomains;
  const actor = { kind: 'cli' as const };
  switch (action ?? '') {
    case 'add': {
      if (domain === undefined) break;
      const by = typeof values.actor === 'string' ? values.actor : 'cli';
      const d = await domains.add(tenantOf(values), domain, by, actor);
      printJson({ domain: d.domain, tenantId: d.tenantId, createdAt: d.createdAt.toISOString() });
      return 0;
    }
    case 'remove': {
      if (domain === undefined) break;
      await domains.remove(tenantOf(values), domain, actor);
      process.stdout.write(`Removed ${normalizeSsoDomain(domain)}\n`);
      return 0;
    }
    case 'list': {
      const list = await domains.list(tenantOf(values));
      const rows = list.map((d) => ({
        domain: d.domain,
        createdAt: d.createdAt.toISOString(),
        createdBy: d.createdBy,
      }));
      if (values.json === true) printJson(rows);
      else printTable(rows, ['domain', 'createdAt', 'createdBy']);
      return 0;
    }
    default:
      break;
  }
  process.stderr.write(SSO_USAGE);
  return 2;
}
