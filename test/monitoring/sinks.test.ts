import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, cryptoRandom } from '../../src/core/index.js';
import { appendAudit } from '../../src/audit/index.js';
import type { Database } from '../../src/db/index.js';
import {
  BREAKGLASS_OPEN,
  LogSink,
  WebhookSink,
  deliverAlerts,
  immediateAlerter,
  verifyWebhook,
  type AlertSink,
} from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { emit, testDetector, user } from './helpers.js';

const SECRET = randomBytes(32).toString('hex');

interface Received {
  readonly verified: boolean;
  readonly body: { type: string; alert: Record<string, unknown> };
}

/** A receiver on 127.0.0.1 that checks the signature itself and fails while `down` is set. */
async function receiver(clock: ManualClock): Promise<{
  url: string;
  received: Received[];
  state: { down: boolean };
  server: Server;
}> {
  const received: Received[] = [];
  const state = { down: false };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-scrip-timestamp']);
      const sig = String(req.headers['x-scrip-signature']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
      const verified = sig === expected && verifyWebhook(SECRET, ts, body, sig, clock.now());
      if (state.down) {
        res.writeHead(503).end();
        return;
      }
      received.push({ verified, body: JSON.parse(body) as Received['body'] });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/alerts`, received, state, server };
}

describe('alert sinks and the delivery outbox', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it('a webhook that is down gets the alert later, signed, after backoff; the log sink logs ids only', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T15:00:00Z'));
    const hook = await receiver(clock);
    const lines: Record<string, unknown>[] = [];
    const sinks: AlertSink[] = [
      new WebhookSink({ url: hook.url, secret: SECRET, clock, name: `webhook-${t}` }),
      new LogSink({ warn: (obj) => lines.push(obj) }, `log-${t}`),
    ];
    try {
      const det = await testDetector(db, clock, [t], { sinks: sinks.map((s) => s.name) });
      await emit(db, clock, { tenantId: t, actor: user(), action: BREAKGLASS_OPEN, reason: 'ED' });
      const { opened } = await det.run();
      expect(opened).toHaveLength(1);
      const alertId = opened[0]!.id;

      hook.state.down = true;
      expect(await deliverAlerts(db, sinks, clock)).toEqual({ sent: 1, retried: 1, dead: 0 });
      expect(lines).toEqual([{ alertId, rule: 'break_glass', severity: 'high' }]);
      // Not due yet: nothing is sent again until the backoff has passed.
      hook.state.down = false;
      expect(await deliverAlerts(db, sinks, clock)).toEqual({ sent: 0, retried: 0, dead: 0 });
      clock.advance(30_000);
      expect(await deliverAlerts(db, sinks, clock)).toEqual({ sent: 1, retried: 0, dead: 0 });
      expect(hook.received).toHaveLength(1);
      expect(hook.received[0]!.verified).toBe(true);
      expect(hook.received[0]!.body).toEqual({
        type: 'scrip.alert',
        alert: {
          alertId,
          tenantId: t,
          rule: 'break_glass',
          severity: 'high',
          subject: opened[0]!.subject,
          count: 1,
          firstSeen: '2026-03-03T15:00:00.000Z',
          lastSeen: '2026-03-03T15:00:00.000Z',
        },
      });
      expect(await deliverAlerts(db, sinks, clock)).toEqual({ sent: 0, retried: 0, dead: 0 });
      const rows = await db.withoutTenant(
        async (tx) =>
          (
            await tx.query<{ sink: string; status: string; attempts: number }>(
              'SELECT sink, status, attempts FROM alert_deliveries WHERE alert_id = $1 ORDER BY sink',
              [alertId],
            )
          ).rows,
      );
      expect(rows).toEqual([
        { sink: `log-${t}`, status: 'sent', attempts: 1 },
        { sink: `webhook-${t}`, status: 'sent', attempts: 2 },
      ]);
    } finally {
      hook.server.close();
    }
  });

  it('an alert a domain raised itself (break-glass) reaches the sinks once, across detectors', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T16:00:00Z'));
    const sent: { alertId: string; rule: string }[] = [];
    const sink: AlertSink = {
      name: `capture-${t}`,
      deliver: (n) => {
        sent.push({ alertId: n.alertId, rule: n.rule });
        return Promise.resolve();
      },
    };
    const first = await testDetector(db, clock, [t], { sinks: [sink.name] });
    const second = await testDetector(db, clock, [t], { sinks: [sink.name] });
    // What src/access/break-glass.service.ts does: the record, marked, and the alert, in one tx.
    const userId = randomUUID();
    const alertId = await db.withTenant(t, async (tx) => {
      const rec = await appendAudit(
        tx,
        {
          tenantId: t,
          actor: user(userId),
          action: BREAKGLASS_OPEN,
          outcome: 'success',
          reason: 'emergency',
          details: { alertRaised: true },
        },
        clock,
      );
      return immediateAlerter(cryptoRandom)(tx, {
        tenantId: t,
        rule: 'break_glass',
        subject: userId,
        at: clock.now(),
        seq: rec.seq,
        details: { action: BREAKGLASS_OPEN },
      });
    });
    // Nothing is queued until a detector passes the record.
    expect(await deliverAlerts(db, [sink], clock)).toEqual({ sent: 0, retried: 0, dead: 0 });
    const run1 = await first.run();
    expect(run1.opened).toEqual([]); // the detector does not open a second alert
    await second.run();
    expect(await deliverAlerts(db, [sink], clock)).toEqual({ sent: 1, retried: 0, dead: 0 });
    expect(sent).toEqual([{ alertId, rule: 'break_glass' }]);
    // A later record does not queue it again.
    await emit(db, clock, { tenantId: t, actor: user(), action: 'patient.read' });
    await first.run();
    expect(await deliverAlerts(db, [sink], clock)).toEqual({ sent: 0, retried: 0, dead: 0 });
  });

  it('a receiver rejects a wrong secret, a changed body and a stale timestamp', () => {
    const now = new Date('2026-03-03T15:00:00Z');
    const ts = String(now.getTime() / 1000);
    const body = '{"a":1}';
    const sig = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
    expect(verifyWebhook(SECRET, ts, body, sig, now)).toBe(true);
    expect(verifyWebhook(`${SECRET}x`, ts, body, sig, now)).toBe(false);
    expect(verifyWebhook(SECRET, ts, '{"a":2}', sig, now)).toBe(false);
    expect(verifyWebhook(SECRET, ts, body, sig, new Date(now.getTime() + 301_000))).toBe(false);
  });

  it('refuses plain http to a remote host, credentials in the URL and a short secret', () => {
    const clock = new ManualClock();
    expect(() => new WebhookSink({ url: 'http://example.com/x', secret: SECRET, clock })).toThrow(
      TypeError,
    );
    expect(
      () => new WebhookSink({ url: 'https://u:p@example.com/x', secret: SECRET, clock }),
    ).toThrow(TypeError);
    expect(() => new WebhookSink({ url: 'https://example.com/x', secret: 'short', clock })).toThrow(
      TypeError,
    );
  });

  it('gives up after the configured attempts and marks the delivery dead', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T15:00:00Z'));
    const failing: AlertSink = {
      name: `down-${t}`,
      deliver: () => Promise.reject(new Error('connection refused')),
    };
    const det = await testDetector(db, clock, [t], { sinks: [failing.name] });
    await emit(db, clock, { tenantId: t, actor: user(), action: BREAKGLASS_OPEN });
    await det.run();
    const opts = { maxAttempts: 3, baseBackoffMs: 1000 };
    expect(await deliverAlerts(db, [failing], clock, opts)).toMatchObject({ retried: 1 });
    clock.advance(1000);
    expect(await deliverAlerts(db, [failing], clock, opts)).toMatchObject({ retried: 1 });
    clock.advance(1500); // the second retry waits twice as long
    expect(await deliverAlerts(db, [failing], clock, opts)).toEqual({
      sent: 0,
      retried: 0,
      dead: 0,
    });
    clock.advance(500);
    expect(await deliverAlerts(db, [failing], clock, opts)).toEqual({
      sent: 0,
      retried: 0,
      dead: 1,
    });
    clock.advance(3_600_000);
    expect(await deliverAlerts(db, [failing], clock, opts)).toEqual({
      sent: 0,
      retried: 0,
      dead: 0,
    });
  });
});
