import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig, createLogger, type Config } from '../src/config/index.js';
import type { Database } from '../src/db/index.js';
import { buildApp, type AppDeps } from '../src/http/app.js';

/** Captures every log line the app writes, for assertions about what is (not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    );
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    SCRIP_ENV: 'test',
    SCRIP_LOG_LEVEL: 'trace',
    SCRIP_METRICS_PORT: '0',
    ...overrides,
  });
}

export async function buildTestApp(
  db: Database,
  extra: Partial<Omit<AppDeps, 'db' | 'logger' | 'config'>> & { config?: Config } = {},
): Promise<{ app: FastifyInstance; logs: LogCapture }> {
  const logs = new LogCapture();
  const config = extra.config ?? testConfig();
  const app = await buildApp({
    ...extra,
    config,
    db,
    logger: createLogger(config.SCRIP_LOG_LEVEL, logs),
  });
  return { app, logs };
}
