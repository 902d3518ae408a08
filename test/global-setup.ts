import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgres, migrateTarget, type DatabaseTarget } from '../src/db/index.js';
import { EMBEDDED_OWNER, EMBEDDED_SUPERUSER } from '../src/db/embedded-postgres.js';

/**
 * One database per test run: the embedded PostgreSQL (default) in a temporary directory, or a
 * fresh database on the server named by DATABASE_URL. Either way it is real PostgreSQL, and a
 * missing or unreachable server fails the run (never skips), with or without CI=true.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    db: {
      kind: 'embedded' | 'external';
      ownerUrl: string;
      appUrl: string;
      adminUrl: string;
      appUser: string;
      appPassword: string | null;
    };
  }
}

const APP_USER = 'scrip_server';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external !== undefined && external !== '') {
    const name = `scrip_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: external });
    await admin.connect().catch((err: unknown) => {
      throw new Error(
        `DATABASE_URL is set but PostgreSQL is unreachable: ${(err as Error).message}`,
      );
    });
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
    await admin.end();
    const url = new URL(external);
    url.pathname = `/${name}`;
    const ownerUrl = url.toString();
    const appUrl = new URL(ownerUrl);
    appUrl.username = APP_USER;
    appUrl.password = '';
    const target: DatabaseTarget = {
      kind: 'external',
      ownerUrl,
      appUrl: appUrl.toString(),
      appUser: APP_USER,
      appPassword: undefined,
      embedded: undefined,
    };
    await migrateTarget(target);
    project.provide('db', {
      kind: 'external',
      ownerUrl,
      appUrl: target.appUrl,
      adminUrl: external,
      appUser: APP_USER,
      appPassword: null,
    });
    return async () => {
      const c = new pg.Client({ connectionString: external });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      await c.end();
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'scrip-test-'));
  const embedded = new EmbeddedPostgres(dir, silent);
  await embedded.start();
  const creds = embedded.credentials;
  const target: DatabaseTarget = {
    kind: 'embedded',
    ownerUrl: embedded.url(EMBEDDED_OWNER, creds.ownerPassword),
    appUrl: embedded.url(APP_USER, creds.appPassword),
    appUser: APP_USER,
    appPassword: creds.appPassword,
    embedded,
  };
  await migrateTarget(target);
  project.provide('db', {
    kind: 'embedded',
    ownerUrl: target.ownerUrl,
    appUrl: target.appUrl,
    adminUrl: embedded.url(EMBEDDED_SUPERUSER, creds.superuserPassword, 'postgres'),
    appUser: APP_USER,
    appPassword: creds.appPassword,
  });
  return async () => {
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
