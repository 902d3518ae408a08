import { describe, expect, it } from 'vitest';
import { SourceLimiter } from './source-limiter.js';

describe('SourceLimiter', () => {
  it('allows max requests per source per window, then refuses until the window ends', () => {
    let t = 0;
    const limit = new SourceLimiter(3, 60_000, () => t);
    expect([1, 2, 3, 4].map(() => limit.take('192.0.2.1'))).toEqual([true, true, true, false]);
    expect(limit.take('192.0.2.2')).toBe(true);
    t = 15_000;
    expect(limit.retryAfterSeconds('192.0.2.1')).toBe(45);
    expect(limit.take('192.0.2.1')).toBe(false);
    t = 60_000;
    expect(limit.take('192.0.2.1')).toBe(true);
  });
});
