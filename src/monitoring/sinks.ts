/**
 * Alert sinks (45 CFR 164.308(a)(6)(ii) security incident response and reporting): where a new
 * alert is announced. Sinks are ports passed in; they see identifiers, codes and counts only
 * ({@link AlertNotice}), never PHI. Delivery goes through the `alert_deliveries` outbox
 * (delivery.ts), so an unreachable sink delays an alert but never loses it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, type Clock } from '../core/index.js';
import type { RuleId, Severity } from './rules.js';

/** What a sink receives about an alert. */
export interface AlertNotice {
  readonly alertId: string;
  readonly tenantId: string | null;
  readonly rule: RuleId;
  readonly severity: Severity;
  /** The user id, account key, source address or action the rule fired on. */
  readonly subject: string | null;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
}

export interface AlertSink {
  /** Stable name stored with each queued delivery (`[a-z][a-z0-9_.-]*`). */
  readonly name: string;
  /** Delivers or throws; the outbox retries with backoff. */
  deliver(notice: AlertNotice): Promise<void>;
}

/** The slice of a pino logger the log sink needs. */
export interface AlertLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Writes one log line per alert: its id, rule and severity only. */
export class LogSink implements AlertSink {
  readonly name: string;
  constructor(
    private readonly logger: AlertLogger,
    name = 'log',
  ) {
    this.name = name;
  }

  async deliver(notice: AlertNotice): Promise<void> {
    this.logger.warn(
      { alertId: notice.alertId, rule: notice.rule, severity: notice.severity },
      'monitoring alert',
    );
  }
}

export const SIGNATURE_HEADER = 'x-scrip-signature';
export const TIMESTAMP_HEADER = 'x-scrip-timestamp';

/** `sha256=<hex HMAC-SHA-256(secret, "<timestamp>.<body>")>`, the X-Scrip-Signature value. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Receiver-side check of a webhook: the signature matches (constant time) and the timestamp is
 * within `toleranceSeconds` of `now` (replay window).
 */
export function verifyWebhook(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  now: Date,
  toleranceSeconds = 300,
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface WebhookSinkOptions {
  /** `https:` URL; `http:` only to a loopback address (tests, a local relay). */
  readonly url: string;
  /** HMAC key shared with the receiver (at least 32 characters). */
  readonly secret: string;
  readonly clock: Clock;
  readonly timeoutMs?: number;
  readonly name?: string;
  /** Injected for tests; the global fetch by default. */
  readonly fetch?: typeof fetch;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * POSTs `{ type: 'scrip.alert', alert }` as JSON, signed with X-Scrip-Signature/-Timestamp.
 * Not behind the compliance BAA gate (`IntegrationGate.requireEnabled`), by decision: a notice is
 * ids, codes, counts and times only ({@link AlertNotice}), never PHI, and holding security alerts
 * while a contract lapses would silence incident response (45 CFR 164.308(a)(6)); docs/audit.md.
 */
export class WebhookSink implements AlertSink {
  readonly name: string;
  readonly #url: URL;
  readonly #options: WebhookSinkOptions;

  constructor(options: WebhookSinkOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      throw new TypeError('webhook URL must be https (http only to a loopback address)');
    }
    if (url.username !== '' || url.password !== '') {
      throw new TypeError('webhook URL must not carry credentials');
    }
    if (options.secret.length < 32) throw new TypeError('webhook secret must be at least 32 chars');
    this.#url = url;
    this.#options = options;
    this.name = options.name ?? 'webhook';
  }

  async deliver(notice: AlertNotice): Promise<void> {
    const body = JSON.stringify({ type: 'scrip.alert', alert: notice });
    const timestamp = String(Math.floor(this.#options.clock.now().getTime() / 1000));
    const doFetch = this.#options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(this.#options.secret, timestamp, body),
          [TIMESTAMP_HEADER]: timestamp,
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new AppError('unavailable', 'webhook unreachable', { cause: err });
    }
    await response.body?.cancel();
    if (!response.ok) throw new AppError('unavailable', `webhook answered ${response.status}`);
  }
}
