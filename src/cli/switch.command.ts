import { readFileSync } from 'node:fs';
import { CheckpointScheduler } from '../audit/index.js';
import { createLogger, type Config } from '../config/index.js';
import { AppError } from '../core/index.js';
import { checkpointSigner, openPlatform, startMonitoring, type Platform } from '../platform.js';
import {
  ensureSwitchTenant,
  parseParticipantFile,
  ParticipantRepository,
  removeParticipant,
  saveParticipants,
  startSwitch,
  switchOptionsFromConfig,
} from '../switch/index.js';
import { printJson, printTable } from './output.js';

const USAGE =
  'usage: scrip switch | scrip switch participants add FILE | participants list [--json] | participants remove ID\n';

/**
 * `scrip switch`: runs the network switch as its own process over this environment's database
 * (DATABASE_URL, or the embedded one in SCRIP_DATA_DIR, which it then owns like `scrip serve`).
 * Writes audit checkpoints for its log and runs the alert rules over it. Stops on SIGINT/SIGTERM.
 */
export async function runSwitch(config: Config): Promise<void> {
  const logger = createLogger(config.SCRIP_LOG_LEVEL);
  const options = switchOptionsFromConfig(config, (err) => {
    logger.error({ err }, 'switch error');
  });
  const platform = await openPlatform(config, { logger, lock: true, lockOwner: 'scrip switch' });
  const cleanup: (() => Promise<void>)[] = [() => platform.close()];
  const runCleanup = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch((err: unknown) => {
        logger.error({ err }, 'shutdown step failed');
      });
    }
  };
  try {
    const scheduler = new CheckpointScheduler({
      db: platform.db,
      signer: await checkpointSigner(platform.signingKeys, config.SCRIP_AUDIT_ORIGIN),
      origin: config.SCRIP_AUDIT_ORIGIN,
      everyRecords: config.SCRIP_AUDIT_CHECKPOINT_RECORDS,
      everySeconds: config.SCRIP_AUDIT_CHECKPOINT_SECONDS,
      clock: platform.clock,
      onError: (err) => {
        logger.error({ err }, 'audit checkpoint failed');
      },
    });
    scheduler.start();
    cleanup.push(() => scheduler.stop());
    // Alerts on the switch's own log: a message it gave up on (expired undelivered, or an
    // answer it could not relay back) raises a transmission_failure alert.
    const monitoring = startMonitoring(config, platform, logger);
    cleanup.push(() => monitoring.stop());
    const running = await startSwitch(platform, options);
    cleanup.push(() => running.close());
    logger.info({ port: running.port, database: platform.target.kind }, 'scrip switch listening');
    process.stdout.write(`Scrip switch is listening on ${running.url}\n`);
  } catch (err) {
    await runCleanup();
    throw err;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'switch shutting down');
    runCleanup()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
}

/** `scrip switch participants add FILE | list | remove ID` (audited, docs/switch.md). */
export async function participantsCommand(
  p: Pick<Platform, 'db' | 'clock'>,
  sub: string | undefined,
  rest: readonly string[],
  json: boolean,
): Promise<number> {
  switch (sub ?? '') {
    case 'add': {
      const file = rest[0];
      if (file === undefined) break;
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new AppError('validation_failed', `cannot read ${file}`, { detail: 'file' });
      }
      printJson(await saveParticipants(p.db, p.clock, parseParticipantFile(text), { kind: 'cli' }));
      return 0;
    }
    case 'list': {
      const tenantId = await ensureSwitchTenant(p.db);
      const repo = new ParticipantRepository(p.clock);
      const list = await p.db.withTenant(tenantId, (tx) => repo.list(tx, tenantId));
      if (json) {
        printJson(list);
      } else {
        printTable(
          list.map((x) => ({
            id: x.id,
            kind: x.kind,
            active: String(x.active),
            addresses: x.addresses.map((a) => `${a.qualifier}:${a.value}`).join(' '),
            levels: x.serviceLevels.join(','),
            endpoint: x.endpointUrl,
          })),
          ['id', 'kind', 'active', 'addresses', 'levels', 'endpoint'],
        );
      }
      return 0;
    }
    case 'remove': {
      const id = rest[0];
      if (id === undefined) break;
      const removed = await removeParticipant(p.db, p.clock, id, { kind: 'cli' });
      if (!removed) throw new AppError('not_found', 'no such active participant');
      process.stdout.write(`removed ${id}\n`);
      return 0;
    }
    default:
      break;
  }
  process.stderr.write(USAGE);
  return 2;
}

export { USAGE as SWITCH_USAGE };
