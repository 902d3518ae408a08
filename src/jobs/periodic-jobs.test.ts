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
  it('runs every job after its first delay, logs a failure by job name without stopping the others', async () => {
    const ran: string[] = [];
    const logs = new LogCaptureForJobs();
    const stop = startPeriodicJobs(
      [
        { name: 'ok', everyMs: 20, run: async () => void ran.push('ok') },
        {
          name: 'broken',
          everyMs: 20,
          run: () => Promise.reject(new Error('boom')),
        },
      ],
      createLogger('info', logs),
      0,
    );
    expect(ran).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    await stop();
    expect(ran.length).toBeGreaterThan(0);
    expect(new Set(ran)).toEqual(new Set(['ok']));
    expect(logs.text).toContain('"job":"broken"');
    expect(logs.text).toContain('periodic job failed');
  });
});
