import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { AppError } from '../core/index.js';
import { permissionsOf } from '../access/role-catalog.js';
import type { CatalogPermission } from '../access/permissions.js';
import type { Platform } from '../platform.js';

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
