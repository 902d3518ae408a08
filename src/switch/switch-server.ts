/**
 * Starting a switch: the mutual-TLS listener (`POST /ncpdp/script`) and the store-and-forward
 * worker over one database. `scrip switch` runs it as its own process; {@link startLocalSwitch}
 * runs it inside `scrip serve` so the tenants of one installation exchange messages over the
 * same mTLS path as in production (issue 8 item 7).
 */
import { X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { foldRefusals } from '../network/refusal-folding.js';
import { createMtlsServer, spkiSha256 } from '../network/mtls.js';
import type { Party } from '../network/ncpdp-script.types.js';
import { ParticipantRepository } from './participants.js';
import { SwitchForwarder } from './switch-forwarder.js';
import { SwitchIngress } from './switch-ingress.js';
import { ensureSwitchTenant } from './switch-tenant.js';
import type { Config } from '../config/index.js';
import { loadSwitchTls, switchPolicy, type SwitchPolicy, type SwitchTls } from './switch-config.js';

export interface SwitchDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly random?: Random;
}

export interface SwitchOptions {
  readonly tls: SwitchTls;
  readonly policy: SwitchPolicy;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The switch's mailbox id (Header From, qualifier M, of its own answers). */
  readonly switchId: string;
  /** How often the forwarder looks for due messages (default 1 s). */
  readonly intervalMs?: number;
  /** How often the connection-level pin allow-list is reloaded (default 5 s). */
  readonly refreshMs?: number;
  readonly deliveryTimeoutMs?: number;
  readonly onError?: (err: unknown) => void;
}

export interface RunningSwitch {
  readonly port: number;
  /** `https://<host>:<port>/ncpdp/script`. */
  readonly url: string;
  readonly tenantId: TenantId;
  readonly participants: ParticipantRepository;
  readonly forwarder: SwitchForwarder;
  /** Reloads the allow-list of client pins now (after a participant change). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

function pinOfSocket(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate();
  if (!Buffer.isBuffer(cert.raw) || cert.raw.length === 0) return undefined;
  return spkiSha256(new X509Certificate(cert.raw));
}

/** Starts the switch listener and its forwarder; resolves once listening. */
export async function startSwitch(deps: SwitchDeps, o: SwitchOptions): Promise<RunningSwitch> {
  const random = deps.random ?? cryptoRandom;
  const tenantId = await ensureSwitchTenant(deps.db);
  const participants = new ParticipantRepository(deps.clock);
  const report = (err: unknown): void => o.onError?.(err);
  const forwarder = new SwitchForwarder({
    db: deps.db,
    keyring: deps.keyring,
    clock: deps.clock,
    random,
    tenantId,
    participants,
    tls: o.tls,
    policy: o.policy,
    ...(o.deliveryTimeoutMs === undefined ? {} : { timeoutMs: o.deliveryTimeoutMs }),
    onError: report,
  });
  const self: Party = { qualifier: 'M', id: o.switchId };
  const ingress = new SwitchIngress({
    db: deps.db,
    keyring: deps.keyring,
    clock: deps.clock,
    random,
    tenantId,
    participants,
    self,
    deadlineMs: o.policy.deadlineMs,
    onAccepted: () => {
      forwarder.kick();
    },
    onError: report,
  });
  let pins = new Set<string>();
  const refresh = async (): Promise<void> => {
    pins = new Set(
      await deps.db.withTenant(tenantId, (tx) => participants.activeClientPins(tx, tenantId)),
    );
  };
  await refresh();
  // One record per source address and reason per window, carrying how many were folded into it:
  // a scanner hammering the port must not turn into an audit-log flood.
  const audit = foldRefusals((reason, ip, folded) => {
    ingress.refusedConnection(reason, ip, folded).catch(report);
  });
  const server: Server = createMtlsServer({
    key: o.tls.key,
    cert: o.tls.cert,
    clientCa: o.tls.clientCa,
    // handshake_failed: a missing certificate or one from another CA (no HTTP at all);
    // client_pin_mismatch: a certificate of the CA whose key no active participant holds.
    onRefused: (reason, ip) => {
      audit(reason, ip);
    },
    handler: (req, res, peer) => {
      ingress.handle(req, res, peer);
    },
  });
  // Runs before the HTTP layer (and before createMtlsServer's own check): a certificate from the
  // participants' CA whose key no active participant holds is closed before any byte is read.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const pin = socket.authorized ? pinOfSocket(socket) : undefined;
    // Closed here; createMtlsServer's own check then reports it (onRefused above).
    if (pin !== undefined && !pins.has(pin)) socket.destroy();
  });
  // A participant sends one small message per request: no slow uploads held open.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  forwarder.start(o.intervalMs ?? 1_000);
  const refreshTimer = setInterval(() => {
    refresh().catch(report);
  }, o.refreshMs ?? 5_000);
  refreshTimer.unref();
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    port,
    url: `https://${host}:${String(port)}/ncpdp/script`,
    tenantId,
    participants,
    forwarder,
    refresh,
    close: async () => {
      clearInterval(refreshTimer);
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await forwarder.stop();
    },
  };
}

/**
 * The local switch of `scrip serve` (SCRIP_LOCAL_SWITCH=on): the same switch over the
 * installation's own database, its rows under the switch's internal tenant. Participants (the
 * installation's clinic and pharmacy tenants) are registered like any other
 * (`scrip switch participants add`, or by `scrip demo seed`).
 */
export async function startLocalSwitch(
  platform: SwitchDeps,
  options: SwitchOptions,
): Promise<RunningSwitch> {
  return startSwitch(platform, options);
}

/** {@link SwitchOptions} from the SCRIP_SWITCH_* settings (files read and checked now). */
export function switchOptionsFromConfig(
  config: Config,
  onError?: (err: unknown) => void,
): SwitchOptions {
  return {
    tls: loadSwitchTls(config),
    policy: switchPolicy(config),
    host: config.SCRIP_SWITCH_HOST,
    port: config.SCRIP_SWITCH_PORT,
    switchId: config.SCRIP_SWITCH_ID,
    ...(onError === undefined ? {} : { onError }),
  };
}
