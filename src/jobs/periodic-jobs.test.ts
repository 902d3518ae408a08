import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../config/index.js';
import { startPeriodicJobs } from './periodic-jobs.js';

class LogCaptureForJobs extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('periodic jobs', () => {
  it('runs every job at start, logs a failure by job name without stopping the others', async () => {
    const ran: string[] = [];
    const logs = new LogCaptureForJobs();
    const stop = startPeriodicJobs(
      [
        { name: 'ok', everyMs: 60_000, run: async () => void ran.push('ok') },
        {
          name: 'broken',
          everyMs: 60_000,
          run: () => Promise.reject(new Error('boom')),
        },
      ],
      createLogger('info', logs),
    );
    await stop();
    expect(ran).toEqual(['ok']);
    expect(logs.text).toContain('"job":"broken"');
    expect(logs.text).toContain('periodic job failed');
  });
});
