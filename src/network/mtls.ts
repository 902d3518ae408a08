import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as tls from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { TLS_CIPHERS } from '../http/app.js';

/**
 * Mutual TLS between Scrip, the switch and pharmacies (45 CFR 164.312(e)(1) transmission
 * security; 21 CFR 1311.170): TLS 1.3 preferred, 1.2 minimum, ECDHE key exchange with AEAD
 * ciphers only, a client certificate required by the server, and the peer's key pinned by the
 * SHA-256 of its SubjectPublicKeyInfo (RFC 7469 §2.4 pin format) with a backup pin for rotation.
 *
 * A pin mismatch is detected in `checkServerIdentity`, during the handshake: the connection is
 * closed before any request byte is written. Under TLS 1.3 the client completes its side of the
 * handshake before the server has checked the client certificate, so the client learns of a
 * refused certificate only when the connection closes; success means an HTTP response.
 */

const TLS_MIN = 'TLSv1.2';
const TLS_MAX = 'TLSv1.3';
const ECDH_CURVES = 'X25519:P-256:P-384';

/** SHA-256 of the certificate's SubjectPublicKeyInfo DER, base64 (an RFC 7469 pin-sha256). */
export function spkiSha256(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** A pin-sha256 value: base64 of 32 bytes. */
export function isSpkiPin(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

function pinMatches(pin: string, pins: readonly string[]): boolean {
  const got = Buffer.from(pin, 'base64');
  let match = false;
  for (const p of pins) {
    const want = Buffer.from(p, 'base64');
    // Constant time per comparison; every pin is compared (no early exit on a match).
    if (want.length === got.length && timingSafeEqual(want, got)) match = true;
  }
  return match;
}

function pinOf(cert: PeerCertificate): string | undefined {
  // `raw` is the DER certificate; an empty object means no certificate was presented.
  if (!Buffer.isBuffer(cert.raw) || cert.raw.length === 0) return undefined;
  return spkiSha256(new X509Certificate(cert.raw));
}

/** Why a delivery failed. `pin_mismatch` and `tls` fail before any request byte is sent. */
export type DeliveryFailure = 'pin_mismatch' | 'tls' | 'timeout' | 'network' | 'response_too_large';

export class DeliveryError extends Error {
  constructor(
    readonly reason: DeliveryFailure,
    options?: { cause?: unknown },
  ) {
    super(`delivery failed: ${reason}`, options);
    this.name = 'DeliveryError';
  }
}

export interface DeliverOptions {
  /** PEM private key and certificate of the sending organisation. */
  readonly clientKey: string;
  readonly clientCert: string;
  /** PEM CA certificate(s) that issue the peer's server certificate. */
  readonly ca: string | readonly string[];
  /** The peer's SPKI pins (primary and backup); at least one. */
  readonly pins: readonly string[];
  readonly timeoutMs?: number;
  readonly contentType?: string;
  readonly maxResponseBytes?: number;
  /** Extra request headers (e.g. the prescription JWS beside a NewRx); never PHI in clear text. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Delivered {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

const PIN_MISMATCH = 'ERR_SCRIP_SPKI_PIN_MISMATCH';

/**
 * POSTs `body` to `url` over mutual TLS. The server must present a certificate that chains to
 * `ca`, matches the URL's host name, and whose SPKI hash is one of `pins`; otherwise the
 * connection is closed during the handshake and the promise rejects with {@link DeliveryError}.
 */
export async function deliver(
  url: string,
  body: string | Buffer,
  options: DeliverOptions,
): Promise<Delivered> {
  const target = new URL(url);
  if (target.protocol !== 'https:') throw new TypeError('deliver: only https URLs');
  if (options.pins.length === 0 || !options.pins.every(isSpkiPin)) {
    throw new TypeError('deliver: at least one valid SPKI pin is required');
  }
  const pins = [...options.pins];
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return new Promise<Delivered>((resolve, reject) => {
    let pinFailed = false;
    const req = https.request(
      target,
      {
        method: 'POST',
        agent: false, // a fresh connection per delivery: every handshake is pin-checked
        key: options.clientKey,
        cert: options.clientCert,
        ca: typeof options.ca === 'string' ? options.ca : [...options.ca],
        minVersion: TLS_MIN,
        maxVersion: TLS_MAX,
        ciphers: TLS_CIPHERS,
        ecdhCurve: ECDH_CURVES,
        rejectUnauthorized: true,
        timeout: options.timeoutMs ?? 15_000,
        headers: {
          ...options.headers,
          'content-type': options.contentType ?? 'application/xml',
          'content-length': String(payload.length),
        },
        checkServerIdentity: (host, cert) => {
          const standard = tls.checkServerIdentity(host, cert);
          if (standard !== undefined) return standard;
          const pin = pinOf(cert);
          if (pin === undefined || !pinMatches(pin, pins)) {
            pinFailed = true;
            return Object.assign(new Error('server key does not match a pinned SPKI hash'), {
              code: PIN_MISMATCH,
            });
          }
          return undefined;
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new DeliveryError('response_too_large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks),
          });
        });
        res.on('error', (err) => {
          reject(err instanceof DeliveryError ? err : new DeliveryError('network', { cause: err }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new DeliveryError('timeout')));
    req.on('error', (err) => {
      if (err instanceof DeliveryError) {
        reject(err);
        return;
      }
      if (pinFailed) {
        reject(new DeliveryError('pin_mismatch', { cause: err }));
        return;
      }
      const code = (err as { code?: string }).code ?? '';
      const tlsFailure =
        code.startsWith('ERR_TLS') ||
        code.startsWith('ERR_SSL') ||
        code.includes('CERT') ||
        /alert|certificate|handshake/i.test(err.message);
      reject(new DeliveryError(tlsFailure ? 'tls' : 'network', { cause: err }));
    });
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------

/** The authenticated client of a request. */
export interface MtlsPeer {
  readonly subject: string;
  readonly pin: string;
  readonly fingerprint256: string;
}

export type MtlsRefusal = 'handshake_failed' | 'client_pin_mismatch';

export interface MtlsServerOptions {
  /** PEM key and certificate of this server. */
  readonly key: string;
  readonly cert: string;
  /** PEM CA certificate(s) whose client certificates are accepted. */
  readonly clientCa: string | readonly string[];
  /** When given, a client certificate must also match one of these SPKI pins. */
  readonly clientPins?: readonly string[];
  /** Called for every refused connection (to audit it); never with message content. */
  readonly onRefused?: (reason: MtlsRefusal, remoteAddress: string | undefined) => void;
  readonly handler: (req: IncomingMessage, res: ServerResponse, peer: MtlsPeer) => void;
}

function peerOf(socket: TLSSocket): MtlsPeer | undefined {
  // A socket an earlier listener already closed has no certificate left to read.
  if (!socket.authorized || socket.destroyed) return undefined;
  const cert = socket.getPeerCertificate();
  const pin = pinOf(cert);
  if (pin === undefined) return undefined;
  const cn = cert.subject.CN;
  return {
    subject: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
    pin,
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * An HTTPS server that requires a client certificate issued by `clientCa` (and, optionally,
 * pinned). A connection without one, or with one from another CA, fails the handshake and never
 * reaches `handler`; a pin mismatch closes the connection as soon as the handshake completes.
 */
export function createMtlsServer(options: MtlsServerOptions): https.Server {
  const clientPins = options.clientPins === undefined ? undefined : [...options.clientPins];
  if (clientPins !== undefined && (clientPins.length === 0 || !clientPins.every(isSpkiPin))) {
    throw new TypeError('createMtlsServer: clientPins must hold valid SPKI pins');
  }
  const allowed = (socket: TLSSocket): MtlsPeer | undefined => {
    const peer = peerOf(socket);
    if (peer === undefined) return undefined;
    if (clientPins !== undefined && !pinMatches(peer.pin, clientPins)) return undefined;
    return peer;
  };
  const server = https.createServer(
    {
      key: options.key,
      cert: options.cert,
      ca: typeof options.clientCa === 'string' ? options.clientCa : [...options.clientCa],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: TLS_MIN,
      maxVersion: TLS_MAX,
      ciphers: TLS_CIPHERS,
      honorCipherOrder: true,
      ecdhCurve: ECDH_CURVES,
    },
    (req, res) => {
      // Checked again per request: defence in depth behind the connection-level check.
      const socket = req.socket;
      const peer = socket instanceof tls.TLSSocket ? allowed(socket) : undefined;
      if (peer === undefined) {
        req.socket.destroy();
        return;
      }
      options.handler(req, res, peer);
    },
  );
  // Runs before the HTTP layer's own listener, so no request is parsed on a refused connection.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (allowed(socket) === undefined) {
      options.onRefused?.('client_pin_mismatch', socket.remoteAddress);
      socket.destroy();
    }
  });
  server.on('tlsClientError', (_err, socket) => {
    options.onRefused?.('handshake_failed', socket.remoteAddress);
  });
  return server;
}
