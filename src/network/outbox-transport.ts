/**
 * The outbox worker's transport port and its mutual-TLS implementation (45 CFR 164.312(e)(1)
 * transmission security; 21 CFR 1311.170): the NewRx XML is POSTed to the pharmacy's (or the
 * switch's) network endpoint from the directory, the peer pinned by SPKI SHA-256, and the SCRIPT
 * answer (Status or Error) is parsed with the hostile-input-safe codec.
 */
import { deliver, DeliveryError } from './mtls.js';
import { parseMessage } from './ncpdp-script.codec.js';
import { JWS_HEADER, type NewRxWire } from './newrx-message.js';

/**
 * What a delivery attempt learned. `status` with code 000 means the pharmacy accepted the message
 * (acknowledged), 010 that an intermediary accepted it (transmitted). `error` is either permanent
 * (SCRIPT Error 900 "transaction rejected": retrying cannot help) or retryable (600/601/602, a
 * connection failure, an unreadable answer); `code` is a short token, never message content.
 */
export type TransportResult =
  | { readonly kind: 'status'; readonly code: '000' | '010' }
  | { readonly kind: 'error'; readonly code: string; readonly permanent: boolean };

/** PEM key and certificate a tenant presents (its network identity's client certificate). */
export interface ClientCredentials {
  readonly key: string;
  readonly cert: string;
}

export interface OutboxTransport {
  /**
   * Sends one message. `client` is the sending tenant's own certificate; without it the
   * transport's installation-wide one is used (refused when it has none).
   */
  deliver(
    endpoint: string,
    pins: readonly string[],
    message: NewRxWire,
    client?: ClientCredentials,
  ): Promise<TransportResult>;
}

export interface MtlsTransportOptions {
  /** PEM key and certificate of the sending organisation, when no tenant identity is given. */
  readonly clientKey?: string;
  readonly clientCert?: string;
  /** PEM CA certificate(s) that issue the network's server certificates. */
  readonly ca: string | readonly string[];
  readonly timeoutMs?: number;
}

const is2xx = (status: number) => status >= 200 && status < 300;

/**
 * Reads a SCRIPT answer body into a {@link TransportResult}. The answer counts only when it
 * answers the message sent (RelatesToMessageID is `sentMessageId`) and its HTTP status agrees
 * with it (Status: 2xx; Error 900: 4xx; a retryable Error: not 2xx); anything else is refused as
 * an answer and the message is tried again (never recorded as delivered or rejected on it).
 */
export function answerOf(httpStatus: number, body: Buffer, sentMessageId: string): TransportResult {
  const parsed = parseMessage(body);
  if (!parsed.ok) return { kind: 'error', code: `http_${String(httpStatus)}`, permanent: false };
  const m = parsed.message;
  if (m.header.relatesToMessageId !== sentMessageId) {
    return { kind: 'error', code: 'answer_unrelated', permanent: false };
  }
  const mismatch: TransportResult = {
    kind: 'error',
    code: 'answer_http_mismatch',
    permanent: false,
  };
  if (m.type === 'Status') {
    return is2xx(httpStatus) ? { kind: 'status', code: m.body.code } : mismatch;
  }
  if (m.type === 'Error') {
    const permanent = m.body.code === '900';
    const agrees = permanent ? httpStatus >= 400 && httpStatus < 500 : !is2xx(httpStatus);
    return agrees ? { kind: 'error', code: `script_${m.body.code}`, permanent } : mismatch;
  }
  return { kind: 'error', code: 'unexpected_answer', permanent: false };
}

/** The transport over {@link deliver}: one fresh pinned mTLS connection per message. */
export function mtlsTransport(o: MtlsTransportOptions): OutboxTransport {
  return {
    async deliver(endpoint, pins, message, client) {
      const clientKey = client?.key ?? o.clientKey;
      const clientCert = client?.cert ?? o.clientCert;
      if (clientKey === undefined || clientCert === undefined) {
        return { kind: 'error', code: 'no_client_certificate', permanent: false };
      }
      try {
        const res = await deliver(endpoint, message.xml, {
          clientKey,
          clientCert,
          ca: o.ca,
          pins,
          contentType: 'application/xml',
          headers: message.jws === '' ? {} : { [JWS_HEADER]: message.jws },
          ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
        });
        return answerOf(res.status, res.body, message.messageId);
      } catch (err) {
        if (err instanceof DeliveryError)
          return { kind: 'error', code: err.reason, permanent: false };
        if (err instanceof TypeError)
          return { kind: 'error', code: 'endpoint_invalid', permanent: true };
        return { kind: 'error', code: 'network', permanent: false };
      }
    },
  };
}
