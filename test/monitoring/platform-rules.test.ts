import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import { AUDIT_VERIFY_FAILED, AUTH_LOGIN_FAILURE } from '../../src/monitoring/index.js';
import { openTestDatabase } from '../db.js';
import { alertsOf, emit, testDetector, user } from './helpers.js';

const MIN = 60_000;
const ip = (): string => `10.${[...randomBytes(3)].join('.')}`;
/** A start time no other test uses, so platform-wide dedup buckets never collide. */
const clockAt = (): ManualClock =>
  new ManualClock(Date.UTC(2030, 0, 1) + randomBytes(4).readUInt32BE() * 1000);

/** Failed sign-ins are platform records (tenant NULL); their alerts are platform alerts. */
describe('monitoring rules on platform audit records', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  const fail = (clock: ManualClock, source: string, account: { userId?: string; key?: string }) =>
    emit(db, clock, {
      tenantId: null,
      actor: account.userId === undefined ? { kind: 'system' } : user(account.userId),
      action: AUTH_LOGIN_FAILURE,
      outcome: 'failure',
      source: { ip: source },
      details:
        account.key === undefined
          ? { reason: 'password' }
          : { reason: 'password', accountKey: account.key },
    });

  it('fires at 5 failures for one account in 15 minutes, not at 4 or when spread out', async () => {
    const clock = clockAt();
    const det = await testDetector(db, clock, [null]);
    const [victim, near, slow] = [randomUUID(), randomUUID(), `acct:${randomUUID()}`];
    const start = clock.now();
    for (let i = 0; i < 5; i++) {
      await fail(clock, ip(), { userId: victim });
      if (i < 4) await fail(clock, ip(), { userId: near });
      clock.advance(3 * MIN); // 5 failures within 12 minutes
    }
    clock.set(start);
    for (let i = 0; i < 5; i++) {
      await fail(clock, ip(), { key: slow });
      clock.advance(4 * MIN); // 5 failures over 16 minutes: at most 4 within 15
    }
    await det.run();
    const alerts = await alertsOf(db, null, 'failed_login_account');
    const mine = alerts.filter((a) => [victim, near, slow].includes(a.subject ?? ''));
    expect(mine.map((a) => [a.subject, a.count, a.details])).toEqual([
      [victim, 1, { failures: 5, windowMinutes: 15 }],
    ]);
  });

  it('fires at 20 failures from one source across accounts, not at 19', async () => {
    const clock = clockAt();
    const det = await testDetector(db, clock, [null]);
    const [spray, quiet] = [ip(), ip()];
    for (let i = 0; i < 21; i++) {
      await fail(clock, spray, { key: `acct:${randomUUID()}` });
      if (i < 19) await fail(clock, quiet, { key: `acct:${randomUUID()}` });
      clock.advance(20_000);
    }
    await det.run();
    const alerts = (await alertsOf(db, null, 'failed_login_source')).filter((a) =>
      [spray, quiet].includes(a.subject ?? ''),
    );
    // Failures 20 and 21 both cross the threshold: one alert, two occurrences.
    expect(alerts.map((a) => [a.subject, a.count, a.severity])).toEqual([[spray, 2, 'high']]);
    expect(alerts[0]!.details).toEqual({ failures: 21, windowMinutes: 15 });
  });

  it('an audit verification failure raises a critical platform alert', async () => {
    const clock = clockAt();
    const det = await testDetector(db, clock, [null]);
    await emit(db, clock, {
      tenantId: null,
      actor: { kind: 'system' },
      action: AUDIT_VERIFY_FAILED,
      outcome: 'failure',
      details: { problems: 1, firstBadSeq: 12 },
    });
    // A clean verification is recorded too, and must not alert.
    clock.advance(60_000);
    await emit(db, clock, {
      tenantId: null,
      actor: { kind: 'cli' },
      action: 'audit.verify.passed',
      outcome: 'success',
    });
    await det.run();
    const alerts = (await alertsOf(db, null, 'audit_verification_failure')).filter(
      (a) => a.firstSeen.getTime() === clock.now().getTime() - 60_000,
    );
    expect(alerts.map((a) => [a.severity, a.count, a.status])).toEqual([['critical', 1, 'open']]);
    expect(
      (await alertsOf(db, null, 'audit_verification_failure')).filter(
        (a) => a.firstSeen.getTime() === clock.now().getTime(),
      ),
    ).toEqual([]);
  });
});
