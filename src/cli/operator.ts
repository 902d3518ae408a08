import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { AppError, asTenantId, isUuid, type TenantId } from '../core/index.js';
import { permissionsOf } from '../access/role-catalog.js';
import type { CatalogPermission } from '../access/permissions.js';
import { permissionsFor } from '../identity/roles.js';
import type { Platform } from '../platform.js';
import type { ChangeActor } from '../prescribing/change-control.service.js';

/**
 * Signs in the operator of a dual-controlled CLI command as a real Scrip user: email (`--actor`),
 * password and a TOTP code (prompted on a terminal, or two lines on standard input), through the
 * same sign-in as the web (throttling, lockout, audit). The user must hold `permission` in some
 * tenant; the short session is ended at once. Returns the user id, which becomes the requester
 * or approver, so two different authenticated security administrators are needed.
 */
export async function signInOperator(
  p: Pick<Platform, 'identity' | 'access'>,
  email: string | undefined,
  permission: CatalogPermission,
): Promise<string> {
  if (email === undefined || email === '')
    throw new AppError('validation_failed', '--actor <administrator email> is required');
  const [password, totp] = await readSecrets(['Password: ', 'TOTP code: ']);
  const meta = { ip: 'cli', userAgent: 'scrip-cli' };
  const issued = await p.identity.login.login(
    { email, password: password ?? '', totp: totp ?? '' },
    meta,
  );
  const caller = {
    userId: issued.session.userId,
    tenantId: issued.session.tenantId,
    sessionId: issued.session.id,
  };
  try {
    const info = await p.identity.account.info(caller);
    const { catalog } = await p.access.roles.current(caller.tenantId);
    if (issued.session.restricted || !permissionsOf(catalog, info.roles).has(permission)) {
      throw new AppError('forbidden', `${email} may not do this (needs ${permission})`);
    }
    return issued.session.userId;
  } finally {
    await p.identity.account.logout(caller, meta);
  }
}

/** `--tenant`: a tenant id, or a refusal naming the option. */
export function requireTenant(v: unknown): TenantId {
  if (typeof v !== 'string' || !isUuid(v)) {
    throw new AppError('validation_failed', '--tenant <tenant uuid> is required');
  }
  return asTenantId(v);
}

/** `--effective`: an ISO 8601 date-time, or undefined (a change takes effect on approval). */
export function effectiveDate(v: unknown): Date | undefined {
  if (v === undefined) return undefined;
  const d = typeof v === 'string' ? new Date(v) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) {
    throw new AppError('validation_failed', '--effective must be an ISO 8601 date-time');
  }
  return d;
}

/**
 * Signs the operator of a change-control command in ({@link signInOperator}) and checks that
 * they hold `permission` in `tenant` itself, not only in their own tenant.
 */
export async function signInTenantOperator(
  p: Pick<Platform, 'identity' | 'access' | 'db'>,
  tenant: TenantId,
  actor: unknown,
  permission: CatalogPermission,
): Promise<ChangeActor> {
  const userId = await signInOperator(p, typeof actor === 'string' ? actor : undefined, permission);
  const roles = await p.db.withTenant(tenant, async (tx) => {
    const { rows } = await tx.query<{ roles: string[] }>(
      'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
      [tenant, userId],
    );
    return rows[0]?.roles;
  });
  if (roles === undefined || !permissionsFor(roles).has(permission)) {
    throw new AppError(
      'forbidden',
      `the operator may not do this in this tenant (needs ${permission})`,
    );
  }
  return { userId };
}

/** Reads one line per prompt: hidden on a terminal, plain from a pipe. */
async function readSecrets(prompts: readonly string[]): Promise<string[]> {
  // On a terminal, readline's echo goes to a sink: the secret is typed but not shown.
  const silent = new Writable({
    write: (_chunk, _enc, done) => {
      done();
    },
  });
  const rl = createInterface({
    input: process.stdin,
    output: silent,
    terminal: process.stdin.isTTY,
  });
  const answers: string[] = [];
  try {
    const lines = rl[Symbol.asyncIterator]();
    for (const prompt of prompts) {
      if (process.stdin.isTTY) process.stderr.write(prompt);
      const next = await lines.next();
      if (process.stdin.isTTY) process.stderr.write('\n');
      answers.push(next.done === true ? '' : next.value.trim());
    }
  } finally {
    rl.close();
  }
  return answers;
}
