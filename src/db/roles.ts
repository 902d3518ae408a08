import type pg from 'pg';
import { AppError } from '../core/index.js';

/** Group role holding the application's table privileges (granted by migrations). */
export const APP_GROUP_ROLE = 'scrip_app';

const DUPLICATE = new Set(['42710', '23505']); // duplicate_object, unique_violation (pg_authid race)

async function ignoreDuplicate(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!DUPLICATE.has((err as { code?: string }).code ?? '')) throw err;
  }
}

/**
 * Creates (if missing) the NOLOGIN group role and the server's login role, as the owner.
 * The login role inherits the group's privileges, owns nothing, and can neither bypass RLS nor
 * switch to the owner (it is not a member of it), so `SET ROLE` cannot escape the policies.
 */
export async function ensureRoles(
  owner: pg.ClientBase,
  appUser: string,
  appPassword?: string,
): Promise<void> {
  // Roles are cluster-wide: nodes (or databases) starting at once race on the same catalog rows,
  // which PostgreSQL reports as "tuple concurrently updated". Retrying is safe: every step is
  // idempotent.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await ensureRolesOnce(owner, appUser, appPassword);
      return;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const race = e.code === 'XX000' && /concurrently updated/.test(e.message ?? '');
      if (!race || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.floor(Math.random() * 20)));
    }
  }
}

async function ensureRolesOnce(
  owner: pg.ClientBase,
  appUser: string,
  appPassword?: string,
): Promise<void> {
  const group = owner.escapeIdentifier(APP_GROUP_ROLE);
  const user = owner.escapeIdentifier(appUser);
  const exists = async (name: string): Promise<boolean> =>
    (await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
  if (!(await exists(APP_GROUP_ROLE))) {
    await ignoreDuplicate(() =>
      owner.query(`CREATE ROLE ${group} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS`),
    );
  }
  if (!(await exists(appUser))) {
    await ignoreDuplicate(() =>
      owner.query(
        `CREATE ROLE ${user} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT`,
      ),
    );
  }
  if (appPassword !== undefined) {
    await owner.query(`ALTER ROLE ${user} PASSWORD ${owner.escapeLiteral(appPassword)}`);
  }
  await owner.query(`GRANT ${group} TO ${user}`);
  const db = owner.escapeIdentifier(
    (await owner.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '',
  );
  await owner.query(`GRANT CONNECT ON DATABASE ${db} TO ${user}`);
}

/**
 * Refuses to serve when the application connection could bypass tenancy: superuser, BYPASSRLS,
 * owner of a table, or member of a role that owns one.
 */
export async function assertAppRoleIsConfined(app: pg.ClientBase): Promise<void> {
  const { rows } = await app.query<{ rolsuper: boolean; rolbypassrls: boolean; owns: number }>(`
    SELECT r.rolsuper, r.rolbypassrls,
      (SELECT count(*)::int FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace
           AND pg_has_role(current_user, c.relowner, 'USAGE')) AS owns
    FROM pg_roles r WHERE r.rolname = current_user`);
  const row = rows[0];
  if (row === undefined || row.rolsuper || row.rolbypassrls || row.owns > 0) {
    throw new AppError(
      'config_invalid',
      'the application database role must not be a superuser, bypass RLS, or own tables (check DATABASE_APP_URL / SCRIP_DB_APP_USER)',
    );
  }
}
