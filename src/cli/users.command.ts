import type { Config } from '../config/index.js';
import { AppError, asTenantId, isUuid } from '../core/index.js';
import type { IssuedLink } from '../identity/index.js';
import type { Platform } from '../platform.js';

/** The invitation link; the token rides in the fragment so no server log ever sees it. */
export function invitationLink(config: Config, link: IssuedLink): string {
  const origin = config.SCRIP_PUBLIC_ORIGIN ?? `https://localhost:${String(config.SCRIP_PORT)}`;
  return `${origin}/invite#${link.token}  (single use, expires ${link.expiresAt.toISOString()})`;
}

/** `scrip users invite --tenant T --email E --role R [--role R2]`. */
export async function usersCommand(
  p: Platform,
  sub: string | undefined,
  values: Record<string, unknown>,
): Promise<number> {
  if (sub !== 'invite') {
    process.stderr.write('usage: scrip users invite --tenant T --email E --role R\n');
    return 2;
  }
  const tenant = typeof values.tenant === 'string' ? values.tenant : '';
  const email = typeof values.email === 'string' ? values.email : '';
  const raw = values.role;
  const roles = (Array.isArray(raw) ? raw : [raw]).filter(
    (r): r is string => typeof r === 'string',
  );
  if (!isUuid(tenant) || email === '' || roles.length === 0) {
    throw new AppError(
      'validation_failed',
      'usage: scrip users invite --tenant T --email E --role R',
    );
  }
  const link = await p.identity.onboarding.invite(asTenantId(tenant), email, roles, {
    kind: 'cli',
  });
  process.stdout.write(`${invitationLink(p.config, link)}\n`);
  return 0;
}
