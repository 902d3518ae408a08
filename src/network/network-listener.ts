/**
 * The inbound network listener of `scrip serve` (wire contract; issue 8): `POST /ncpdp/script`
 * over mutual TLS (createMtlsServer: a client certificate from the configured CA and, when pins
 * are configured, one of the pinned SPKI hashes, else the connection closes before any request
 * byte is read, and the refusal is audited). The body is capped before it is parsed; the answer is
 * always a SCRIPT message (Status 200, Error 900 4xx, retryable Error 503).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMtlsServer, type MtlsPeer, type MtlsRefusal } from './mtls.js';
import type { InboundDispatcher } from './inbound-dispatcher.js';
import { JWS_HEADER } from './newrx-message.js';

export const SCRIPT_PATH = '/ncpdp/script';
/** The largest accepted message body (the codec's own limit is the backstop). */
export const MAX_BODY_BYTES = 512 * 1024;
/** A JWS header longer than this is refused (an ES256 compact JWS of a prescription is far less). */
const MAX_JWS_CHARS = 64 * 1024;

export interface NetworkListenerOptions {
  /** PEM key and certificate this installation presents as a server. */
  readonly key: string;
  readonly cert: string;
  /** PEM CA certificate(s) issuing the participants' client certificates. */
  readonly clientCa: string | readonly string[];
  /** SPKI pins of the participants allowed to connect (the switch, direct partners). */
  readonly clientPins?: readonly string[];
  readonly dispatcher: Pick<InboundDispatcher, 'handle'>;
  /** Audits a refused connection (never with message content). */
  readonly onRefused?: (reason: MtlsRefusal, remoteAddress: string | undefined) => void;
  /** A request that could not be answered (database down): logged by the caller. */
  readonly onError?: (err: unknown) => void;
  readonly maxBodyBytes?: number;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/xml'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) return 'too_large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return 'too_large';
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Builds (does not start) the listener. */
export function createNetworkListener(o: NetworkListenerOptions): Server {
  const limit = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const handler = (req: IncomingMessage, res: ServerResponse, peer: MtlsPeer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== SCRIPT_PATH) {
      send(res, 404, 'not found', 'text/plain');
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, 'method not allowed', 'text/plain');
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/xml' && type !== 'text/xml') {
      send(res, 415, 'application/xml expected', 'text/plain');
      return;
    }
    const jwsHeader = req.headers[JWS_HEADER];
    const jws =
      typeof jwsHeader === 'string' && jwsHeader.length <= MAX_JWS_CHARS ? jwsHeader : undefined;
    readBody(req, limit)
      .then(async (body) => {
        if (body === 'too_large') {
          send(res, 413, 'too large', 'text/plain');
          req.socket.destroy();
          return;
        }
        const answer = await o.dispatcher.handle(body, jws, {
          requestId: randomUUID(),
          peerPin: peer.pin,
          peerSubject: peer.subject,
          remoteAddress: req.socket.remoteAddress,
        });
        send(res, answer.httpStatus, answer.xml);
      })
      .catch((err: unknown) => {
        o.onError?.(err);
        if (!res.headersSent) send(res, 503, 'unavailable', 'text/plain');
      });
  };
  const server = createMtlsServer({
    key: o.key,
    cert: o.cert,
    clientCa: o.clientCa,
    ...(o.clientPins === undefined || o.clientPins.length === 0
      ? {}
      : { clientPins: o.clientPins }),
    ...(o.onRefused === undefined ? {} : { onRefused: o.onRefused }),
    handler,
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 50;
  return server;
}

/** Starts the listener on `host:port` (0 = any free port); resolves with the bound port. */
export async function startNetworkListener(
  o: NetworkListenerOptions,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createNetworkListener(o);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // `localhost` would bind whichever address it resolves to first: take IPv4 loopback.
    server.listen(port, host === 'localhost' ? '127.0.0.1' : host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
