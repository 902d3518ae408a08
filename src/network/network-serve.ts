/**
 * The network node inside `scrip serve` (docs/network.md): the inbound mTLS listener (when
 * SCRIP_NETWORK_PORT is set) and the two outbox workers (NewRx/CancelRx from `outbox`, every other
 * message kind from `network_outbox`). The workers run only while at least one tenant has a
 * network identity (checked on every run), each message with its tenant's own client certificate,
 * behind the BAA gate.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../config/index.js';
import { cryptoRandom } from '../core/index.js';
import { appendAudit } from '../audit/index.js';
import { NETWORK_PEER_REFUSED } from '../monitoring/actions.js';
import type { Platform } from '../platform.js';
import { networkTenants } from './network-identity.js';
import { startNetworkListener } from './network-listener.js';
import { foldRefusals } from './refusal-folding.js';
import { NetworkOutboxWorker, NETWORK_WORKER_DEFAULTS } from './network-outbox.worker.js';
import { OUTBOX_DEFAULTS, OutboxWorker } from './outbox-worker.js';
import { mtlsTransport } from './outbox-transport.js';
import { networkTiming } from './network-timing.js';
import { baaSendGate } from './send-gate.js';

export type NetworkServePlatform = Pick<
  Platform,
  'config' | 'db' | 'clock' | 'keyring' | 'prescriptions' | 'network' | 'compliance'
>;

/** Starts the listener and the workers; resolves with the stop function (and the bound port). */
export async function startNetworkNode(
  platform: NetworkServePlatform,
  logger: Logger,
): Promise<{ stop: () => Promise<void>; port: number | undefined }> {
  const config = platform.config;
  const stops: (() => Promise<void>)[] = [];
  const caFile = config.SCRIP_NETWORK_CA_FILE;
  const ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
  let port: number | undefined;
  if (config.SCRIP_NETWORK_PORT !== 0 && ca !== undefined) {
    const listener = await startNetworkListener(
      {
        key: readFileSync(config.SCRIP_NETWORK_TLS_KEY_FILE ?? '', 'utf8'),
        cert: readFileSync(config.SCRIP_NETWORK_TLS_CERT_FILE ?? '', 'utf8'),
        clientCa: ca,
        clientPins: config.SCRIP_NETWORK_PEER_PINS?.split(',') ?? [],
        dispatcher: platform.network.dispatcher,
        // One record per source address and reason per window (a scanner must not flood the
        // log), carrying how many refusals were folded since the previous one.
        onRefused: foldRefusals((reason, remoteAddress, folded) => {
          platform.db
            .withoutTenant((tx) =>
              appendAudit(
                tx,
                {
                  tenantId: null,
                  actor: { kind: 'system' },
                  action: NETWORK_PEER_REFUSED,
                  outcome: 'denied',
                  source: remoteAddress === undefined ? {} : { ip: remoteAddress },
                  details: { reason, ...(folded > 0 ? { foldedSincePrevious: folded } : {}) },
                },
                platform.clock,
              ),
            )
            .catch((err: unknown) => {
              logger.error({ err }, 'network refusal audit failed');
            });
        }),
        onError: (err) => {
          logger.error({ err }, 'network message could not be processed');
        },
      },
      config.SCRIP_HOST,
      config.SCRIP_NETWORK_PORT,
    );
    port = listener.port;
    logger.info({ port }, 'network listener (NCPDP SCRIPT over mTLS) started');
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          listener.server.close(() => {
            resolve();
          });
          listener.server.closeAllConnections();
        }),
    );
  }
  if (ca === undefined) {
    logger.warn('SCRIP_NETWORK_CA_FILE is not set: the network outbox workers do not run');
  } else {
    const transport = mtlsTransport({ ca });
    const { leaseMs, baseBackoffMs, maxBackoffMs } = networkTiming(config);
    const gate = baaSendGate(platform.compliance.gate);
    const rxWorker = new OutboxWorker(
      {
        db: platform.db,
        clock: platform.clock,
        random: cryptoRandom,
        keyring: platform.keyring,
        rx: platform.prescriptions.service,
        transport,
        gate,
      },
      // Tenants with a network identity send as themselves; this From is never used then.
      {
        ...OUTBOX_DEFAULTS,
        leaseMs,
        baseBackoffMs,
        maxBackoffMs,
        from: { qualifier: 'D', id: 'SCRIP' },
      },
    );
    const netWorker = new NetworkOutboxWorker(
      {
        db: platform.db,
        clock: platform.clock,
        random: cryptoRandom,
        keyring: platform.keyring,
        transport,
        gate,
      },
      { ...NETWORK_WORKER_DEFAULTS, leaseMs, baseBackoffMs, maxBackoffMs },
    );
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (running !== undefined) return;
      running = (async () => {
        if ((await networkTenants(platform.db)).length === 0) return;
        await rxWorker.runOnce();
        await netWorker.runOnce();
      })()
        .catch((err: unknown) => {
          logger.error({ err }, 'network outbox run failed');
        })
        .finally(() => {
          running = undefined;
        });
    }, config.SCRIP_NETWORK_WORKER_INTERVAL_MS);
    timer.unref();
    stops.push(async () => {
      clearInterval(timer);
      await running;
    });
  }
  return {
    port,
    stop: async () => {
      for (const s of stops.splice(0).reverse()) await s();
    },
  };
}
