import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase32Strict } from '../../src/identity/base32.js';
import { totp } from '../../src/identity/totp.js';
import {
  bootstrapAdmin,
  harness,
  inviteAndEnrol,
  ownerUrlOf,
  PASSWORD,
  type Harness,
} from '../identity/harness.js';
import { runScrip } from '../serve-process.js';

/** A TOTP code for now (the CLI runs on the real clock, the harness on a manual one). */
function codeNow(secret: string, offsetSteps = 0): string {
  const bytes = decodeBase32Strict(secret);
  if (bytes === undefined) throw new TypeError('bad secret');
  return totp(bytes, Date.now() + offsetSteps * 30_000);
}

describe('dual control on the command line: two authenticated security administrators', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'scrip-dual-'));
  let h: Harness;
  let admin: { secret: string };
  let second: { secret: string };
  let prescriber: { secret: string };
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    h = await harness();
    const a = await bootstrapAdmin(h, 'ada@example.test');
    admin = a;
    second = await inviteAndEnrol(h, a.browser, 'sam@example.test', ['security_admin']);
    prescriber = await inviteAndEnrol(h, a.browser, 'pat@example.test', ['prescriber']);
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SCRIP_DATA_DIR: dataDir,
      DATABASE_URL: ownerUrlOf(h),
      DATABASE_APP_URL: (h.p.db.pool as unknown as { options: { connectionString: string } })
        .options.connectionString,
      SCRIP_KEY_DIR: h.p.keyDir,
      SCRIP_LOG_LEVEL: 'warn',
    };
  }, 120_000);
  afterAll(async () => {
    await h.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('requester signs in, cannot approve; a second signed-in administrator approves; others are refused', async () => {
    const request = await runScrip(
      ['keys', 'rotate-kek', '--actor', 'ada@example.test'],
      env,
      `${PASSWORD}\n${codeNow(admin.secret)}\n`,
    );
    expect(request.code, request.stderr).toBe(0);
    const id = /Request (\S+) \(rotate KEK\)/.exec(request.stdout)?.[1] ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const wrongCode = await runScrip(
      ['keys', 'approve', id, '--actor', 'sam@example.test'],
      env,
      `${PASSWORD}\n000000\n`,
    );
    expect(wrongCode.code).not.toBe(0);
    expect(wrongCode.stderr).toContain('invalid credentials');

    const self = await runScrip(
      ['keys', 'approve', id, '--actor', 'ada@example.test'],
      env,
      `${PASSWORD}\n${codeNow(admin.secret, 1)}\n`,
    );
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/cannot approve their own request/);

    const notAdmin = await runScrip(
      ['keys', 'approve', id, '--actor', 'pat@example.test'],
      env,
      `${PASSWORD}\n${codeNow(prescriber.secret)}\n`,
    );
    expect(notAdmin.code).not.toBe(0);
    expect(notAdmin.stderr).toMatch(/needs keys\.admin/);

    const approved = await runScrip(
      ['keys', 'approve', id, '--actor', 'sam@example.test'],
      env,
      `${PASSWORD}\n${codeNow(second.secret)}\n`,
    );
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/: executed \(KEK v2 current/);

    const list = await runScrip(['keys', 'requests', '--json'], env);
    const row = (
      JSON.parse(list.stdout) as { id: string; requestedBy: string; decidedBy: string }[]
    ).find((r) => r.id === id);
    expect(row?.requestedBy).not.toBe(row?.decidedBy);
    expect(row?.requestedBy).toMatch(/^[0-9a-f-]{36}$/); // user ids, not self-asserted names
  }, 180_000);
});
