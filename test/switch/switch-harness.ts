import { generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCert, type IssuedCert } from '../../src/crypto/x509.js';
import { canonicalize } from '../../src/crypto/jcs.js';
import { buildJwks, localEs256Signer, signCompactJws, type Jwks } from '../../src/crypto/jws.js';
import { createMtlsServer, deliver, spkiSha256 } from '../../src/network/mtls.js';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import type { MessageOf, ScriptMessage } from '../../src/network/ncpdp-script.types.js';
import { JWS_HEADER, scriptId } from '../../src/network/newrx-message.js';
import type { ParticipantInput } from '../../src/switch/index.js';
import { amoxicillin, oxycodone, samples } from '../network/ncpdp-samples.js';

export const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

/** One CA for the network (as a switch operator would run), and every party's certificates. */
export interface NetworkPki {
  readonly ca: IssuedCert;
  readonly otherCa: IssuedCert;
  readonly switchCert: IssuedCert;
  /** Clinic (prescriber system): client certificate and its inbound server certificate. */
  readonly clinicClient: IssuedCert;
  readonly clinicServer: IssuedCert;
  readonly pharmacyClient: IssuedCert;
  readonly pharmacyServer: IssuedCert;
  /** Issued by the network CA but registered to nobody. */
  readonly stranger: IssuedCert;
  /** Issued by another CA. */
  readonly foreign: IssuedCert;
}

const server = (ca: IssuedCert, cn: string): Promise<IssuedCert> =>
  issueCert(ca, {
    commonName: cn,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    days: 1,
  });
const client = (ca: IssuedCert, cn: string): Promise<IssuedCert> =>
  issueCert(ca, { commonName: cn, usage: 'client', days: 1 });

export async function networkPki(): Promise<NetworkPki> {
  const ca = await createCa('Test network CA', 2);
  const otherCa = await createCa('Other CA', 2);
  return {
    ca,
    otherCa,
    switchCert: await issueCert(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'both',
      days: 1,
    }),
    clinicClient: await client(ca, 'clinic'),
    clinicServer: await server(ca, 'clinic-inbound'),
    pharmacyClient: await client(ca, 'pharmacy'),
    pharmacyServer: await server(ca, 'pharmacy-inbound'),
    stranger: await client(ca, 'clinic'),
    foreign: await client(otherCa, 'clinic'),
  };
}

/** A prescriber system's prescription-signing key and its JWKS. */
export function signingKey(kid = `k-${randomUUID().slice(0, 8)}`): {
  kid: string;
  jwks: Jwks;
  sign: (doc: unknown) => Promise<string>;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    jwks: buildJwks([{ publicKey, kid }]),
    sign: (doc) =>
      signCompactJws(canonicalize(doc), {
        kid,
        signer: localEs256Signer(privateKey),
        typ: 'scrip-rx+jws',
      }),
  };
}

export interface Received {
  readonly message: ScriptMessage;
  readonly jws: string | undefined;
  readonly pin: string;
}

/**
 * A small participant endpoint (stand-in for a Scrip node's inbound listener or a pharmacy
 * system): mTLS with the network CA, records every message and answers Status 000 (or Error 900
 * when `mode` is reject, 503 Error 600 when busy). `stop()` and `start()` take it offline and back
 * on the same port.
 */
export class TestEndpoint {
  readonly received: Received[] = [];
  mode: 'ok' | 'reject' | 'busy' = 'ok';
  port = 0;
  #server: Server | undefined;

  constructor(
    private readonly cert: IssuedCert,
    private readonly ca: IssuedCert,
    private readonly self: { qualifier: 'P' | 'D'; id: string },
  ) {}

  get url(): string {
    return `https://localhost:${String(this.port)}/ncpdp/script`;
  }

  get pin(): string {
    return pinOf(this.cert.certPem);
  }

  async start(): Promise<void> {
    const s = createMtlsServer({
      key: this.cert.keyPem,
      cert: this.cert.certPem,
      clientCa: this.ca.certPem,
      handler: (req, res, peer) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const parsed = parseMessage(Buffer.concat(chunks));
          if (!parsed.ok) {
            res.writeHead(400).end();
            return;
          }
          const jws = req.headers[JWS_HEADER];
          this.received.push({
            message: parsed.message,
            jws: typeof jws === 'string' ? jws : undefined,
            pin: peer.pin,
          });
          const header = {
            to: parsed.message.header.from,
            from: this.self,
            messageId: scriptId(randomUUID()),
            relatesToMessageId: parsed.message.header.messageId,
            sentTime: new Date().toISOString(),
            senderSoftware: { developer: 'Test', product: 'Endpoint', version: '1' },
          };
          const answer: ScriptMessage =
            this.mode === 'ok'
              ? { type: 'Status', header, body: { code: '000' } }
              : {
                  type: 'Error',
                  header,
                  body: { code: this.mode === 'reject' ? '900' : '600', descriptionCode: '002' },
                };
          const xml = buildMessage(answer);
          res.writeHead(this.mode === 'ok' ? 200 : this.mode === 'reject' ? 400 : 503, {
            'content-type': 'application/xml',
          });
          res.end(xml);
        });
      },
    });
    await new Promise<void>((resolve) => s.listen(this.port, '127.0.0.1', resolve));
    this.port = (s.address() as AddressInfo).port;
    this.#server = s;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s === undefined) return;
    await new Promise<void>((resolve) => {
      s.close(() => {
        resolve();
      });
      s.closeAllConnections();
    });
  }

  byMessageId(id: string): Received[] {
    return this.received.filter((r) => r.message.header.messageId === id);
  }
}

export const CLINIC_LEVELS = ['new', 'cancel', 'change', 'renewal', 'controlled'] as const;

export function clinicParticipant(
  pki: NetworkPki,
  clinicId: string,
  endpoint: TestEndpoint,
  jwks: Jwks,
): ParticipantInput {
  return {
    id: `clinic-${clinicId.toLowerCase()}`,
    kind: 'prescriber_system',
    addresses: [{ qualifier: 'D', value: clinicId }],
    endpointUrl: endpoint.url,
    serverPins: { primary: endpoint.pin },
    clientPins: { primary: pinOf(pki.clinicClient.certPem) },
    serviceLevels: [...CLINIC_LEVELS],
    jwks,
  };
}

export function pharmacyParticipant(
  pki: NetworkPki,
  ncpdpId: string,
  endpoint: TestEndpoint,
  levels: ParticipantInput['serviceLevels'],
  clientPin = pinOf(pki.pharmacyClient.certPem),
): ParticipantInput {
  return {
    id: `pharmacy-${ncpdpId}`,
    kind: 'pharmacy',
    addresses: [{ qualifier: 'P', value: ncpdpId }],
    endpointUrl: endpoint.url,
    serverPins: { primary: endpoint.pin },
    clientPins: { primary: clientPin },
    serviceLevels: [...levels],
  };
}

/** A random 7-digit NCPDP ID. */
export function ncpdpId(): string {
  return String(1_000_000 + Math.floor(Math.random() * 8_999_999));
}

/** A NewRx from `clinicId` to `pharmacy`, controlled (oxycodone CII) or not (amoxicillin). */
export function newRx(
  clinicId: string,
  pharmacy: string,
  controlled: boolean,
  rxId = randomUUID(),
): MessageOf<'NewRx'> {
  const s = samples.NewRx;
  return {
    type: 'NewRx',
    header: {
      ...s.header,
      to: { qualifier: 'P', id: pharmacy },
      from: { qualifier: 'D', id: clinicId },
      messageId: scriptId(randomUUID()),
      prescriberOrderNumber: scriptId(rxId),
    },
    body: {
      ...s.body,
      pharmacy: { ...s.body.pharmacy, ncpdpId: pharmacy },
      medicationPrescribed: controlled ? oxycodone : amoxicillin,
    },
  };
}

/** The canonical prescription document a JWS would cover (only what the switch checks). */
export function rxDoc(rxId: string, pharmacy: string, schedule: string | null): unknown {
  return {
    format: 'scrip-rx/1',
    id: rxId,
    pharmacy: { ncpdpId: pharmacy },
    medication: { name: 'oxycodone', deaSchedule: schedule },
  };
}

/**
 * A NewRx with its prescriber JWS over the matching document (every NewRx through the switch must
 * carry one): the prescription id, the pharmacy and the schedule the message states.
 */
export async function signedNewRx(
  key: { sign: (doc: unknown) => Promise<string> },
  clinicId: string,
  pharmacy: string,
  controlled: boolean,
  rxId = randomUUID(),
): Promise<{ m: MessageOf<'NewRx'>; xml: string; jws: string }> {
  const m = newRx(clinicId, pharmacy, controlled, rxId);
  const jws = await key.sign(rxDoc(rxId, pharmacy, controlled ? 'CII' : null));
  return { m, xml: buildMessage(m), jws };
}

export interface SendResult {
  readonly http: number;
  readonly message: ScriptMessage;
}

/** POSTs a message to the switch as the holder of `cert`. */
export async function sendTo(
  url: string,
  cert: IssuedCert,
  pki: NetworkPki,
  body: string | Buffer,
  jws?: string,
): Promise<SendResult> {
  const res = await deliver(url, body, {
    clientKey: cert.keyPem,
    clientCert: cert.certPem,
    ca: pki.ca.certPem,
    pins: [pinOf(pki.switchCert.certPem)],
    timeoutMs: 10_000,
    ...(jws === undefined ? {} : { headers: { [JWS_HEADER]: jws } }),
  });
  const parsed = parseMessage(res.body);
  if (!parsed.ok) throw new Error(`unreadable switch answer (${String(res.status)})`);
  return { http: res.status, message: parsed.message };
}

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
