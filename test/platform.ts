import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../src/core/index.js';
import { createLogger } from '../src/config/index.js';
import { LocalKeyProvider } from '../src/crypto/local-key-provider.js';
import type { KeyEventSink } from '../src/crypto/reencrypt.js';
import { compose, type Platform } from '../src/platform.js';
import { testConfig } from './app.js';
import { ensureRoles, migrate, openAppDatabase, type Database } from '../src/db/index.js';
import { openTestDatabase, ownerClient, scratchDatabase, testTarget } from './db.js';

export type TestPlatform = Omit<Platform, 'dataDir' | 'target' | 'close'> & {
  readonly keyDir: string;
  readonly events: { action: string; tenantId: string | null; details: Record<string, unknown> }[];
  close(): Promise<void>;
};

/**
 * The composed services with a fresh local key directory: on the run's shared database, or with
 * `isolated`, on a scratch database of its own (for platform-wide operations such as KEK rotation,
 * which visit every tenant and must not meet other tests' keys).
 */
export async function testPlatform(
  clock: Clock = systemClock,
  options: { isolated?: boolean; keyDir?: string; config?: Record<string, string> } = {},
): Promise<TestPlatform> {
  const keyDir = options.keyDir ?? mkdtempSync(join(tmpdir(), 'scrip-keys-'));
  let drop = async (): Promise<void> => undefined;
  let db: Database;
  if (options.isolated === true) {
    const scratch = await scratchDatabase();
    drop = scratch.drop;
    const owner = await ownerClient(scratch.ownerUrl);
    try {
      await ensureRoles(owner, testTarget().appUser, testTarget().appPassword);
      await migrate(owner);
    } finally {
      await owner.end();
    }
    db = await openAppDatabase(
      { ...testTarget(), ownerUrl: scratch.ownerUrl, appUrl: scratch.appUrl },
      { max: 4, statementTimeoutMs: 10_000 },
    );
  } else {
    db = await openTestDatabase();
  }
  const provider = await LocalKeyProvider.open({ keyDir });
  const events: TestPlatform['events'] = [];
  const sink: KeyEventSink = async (_tx, e) => {
    events.push(e);
  };
  const services = compose(
    testConfig(options.config),
    createLogger('silent'),
    db,
    provider,
    clock,
    sink,
  );
  return {
    ...services,
    keyDir,
    events,
    close: async () => {
      await provider.close();
      await db.close();
      await drop();
    },
  };
}
