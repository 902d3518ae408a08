import { readFileSync } from 'node:fs';
import { AppError, asTenantId, isUuid, type TenantId } from '../core/index.js';
import type { Platform } from '../platform.js';
import { printJson } from './output.js';

function tenantOf(values: Record<string, unknown>): TenantId {
  const tenant = typeof values.tenant === 'string' ? values.tenant : '';
  if (!isUuid(tenant)) throw new AppError('validation_failed', '--tenant must be a tenant id');
  return asTenantId(tenant);
}

/**
 * `scrip network trust --tenant T --sender ID --jwks FILE`: registers (or replaces) the JWKS of a
 * prescriber system (its network id, Header From qualifier D) with a pharmacy tenant, so the
 * tenant can verify the prescriptions it signs (21 CFR 1311.205(b)(4)). Out of band, like pins:
 * get the file from the prescriber organisation through a channel you trust. Audited.
 */
export async function networkTrustCommand(
  p: Pick<Platform, 'pharmacy'>,
  sub: string | undefined,
  values: Record<string, unknown>,
): Promise<number> {
  const sender = typeof values.sender === 'string' ? values.sender : undefined;
  const file = typeof values.jwks === 'string' ? values.jwks : undefined;
  if (sub !== 'trust' || sender === undefined || file === undefined) {
    process.stderr.write('usage: scrip network trust --tenant T --sender ID --jwks FILE\n');
    return 2;
  }
  let jwks: unknown;
  try {
    jwks = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new AppError('validation_failed', 'the JWKS file is not JSON');
  }
  const s = await p.pharmacy.setup.trustSender(tenantOf(values), sender, jwks, { kind: 'cli' });
  printJson({ senderId: s.senderId, kids: s.kids, updatedAt: s.updatedAt.toISOString() });
  return 0;
}

/**
 * `scrip pharmacy add --tenant T --ncpdp ID --name N [--npi NPI]`: a pharmacy of this tenant (the
 * NCPDP ID the network addresses); `scrip pharmacy list --tenant T`;
 * `scrip pharmacy member --tenant T --pharmacy ID --user U`: staff membership (opens its inbox).
 */
export async function pharmacyCommand(
  p: Pick<Platform, 'pharmacy'>,
  sub: string | undefined,
  values: Record<string, unknown>,
): Promise<number> {
  const str = (k: string): string | undefined => {
    const v = values[k];
    return typeof v === 'string' ? v : undefined;
  };
  const tenant = tenantOf(values);
  const ncpdpId = str('ncpdp');
  const name = str('name');
  const npi = str('npi');
  const pharmacy = str('pharmacy');
  const user = str('user');
  if (sub === 'add' && ncpdpId !== undefined && name !== undefined) {
    printJson(
      await p.pharmacy.setup.createLocation(
        tenant,
        { ncpdpId, name, ...(npi === undefined ? {} : { npi }) },
        { kind: 'cli' },
      ),
    );
    return 0;
  }
  if (sub === 'list') {
    printJson(await p.pharmacy.setup.listLocations(tenant));
    return 0;
  }
  if (sub === 'member' && pharmacy !== undefined && user !== undefined) {
    if (!isUuid(pharmacy) || !isUuid(user)) {
      throw new AppError('validation_failed', '--pharmacy and --user must be ids');
    }
    await p.pharmacy.setup.addMember(tenant, pharmacy, user, { kind: 'cli' });
    printJson({ pharmacyId: pharmacy, userId: user, member: true });
    return 0;
  }
  process.stderr.write(
    'usage: scrip pharmacy add --tenant T --ncpdp ID --name N [--npi NPI] | list --tenant T | member --tenant T --pharmacy ID --user U\n',
  );
  return 2;
}
