/**
 * Prompt delivery of alerts raised outside the detector (break-glass, outbox failures;
 * immediate-alert.ts): a monitoring worker LISTENs on {@link ALERT_WAKE_CHANNEL} and runs a pass as
 * soon as a transaction that raised one commits, in whichever server process it committed. The
 * poll stays as the fallback: a lost listener connection delays an alert by one poll, never loses
 * it (the alert row and the audit record are already committed).
 */
import type { Notification } from 'pg';
import type { Database } from '../db/index.js';
import { ALERT_WAKE_CHANNEL } from './immediate-alert.js';

/** Calls `onWake` per notification until the returned stop function is called. */
export type AlertWakeSource = (
  onWake: () => void,
  onError: (err: unknown) => void,
) => Promise<() => Promise<void>>;

/** A wake source holding one pooled connection of `db` in LISTEN. */
export function listenForRaisedAlerts(db: Database): AlertWakeSource {
  return async (onWake, onError) => {
    const client = await db.pool.connect();
    let broken = false;
    const notified = (n: Notification): void => {
      if (n.channel === ALERT_WAKE_CHANNEL) onWake();
    };
    const failed = (err: Error): void => {
      broken = true;
      onError(err);
    };
    client.on('notification', notified);
    client.on('error', failed);
    try {
      await client.query(`LISTEN ${ALERT_WAKE_CHANNEL}`);
    } catch (err) {
      client.off('notification', notified).off('error', failed);
      client.release(true);
      throw err;
    }
    return async () => {
      client.off('notification', notified);
      if (!broken) {
        try {
          await client.query(`UNLISTEN ${ALERT_WAKE_CHANNEL}`);
        } catch {
          broken = true;
        }
      }
      client.off('error', failed);
      client.release(broken);
    };
  };
}
