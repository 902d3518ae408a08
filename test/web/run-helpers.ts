/** Helpers the browser tests share beside the harness (browser.ts). */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { createLogger, loadConfig } from '../../src/config/index.js';
import { openPlatform, type Platform } from '../../src/platform.js';

/**
 * Opens the platform of a web run's database (its `env`) for `fn`, then closes it. The embedded
 * PostgreSQL has one owner at a time: call it before `scrip serve` starts (startWebRun's
 * `beforeServe`) or after it stopped.
 */
export async function withPlatform<T>(
  env: NodeJS.ProcessEnv,
  owner: string,
  fn: (p: Platform) => Promise<T>,
): Promise<T> {
  const p = await openPlatform(loadConfig(env), {
    logger: createLogger('warn'),
    lock: false,
    lockOwner: owner,
  });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

/** Waits until no loading note is on the page. */
export async function settled(page: Page): Promise<void> {
  await expect.poll(async () => page.locator('.note.loading').count(), { timeout: 20_000 }).toBe(0);
}
