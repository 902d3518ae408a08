import { describe, expect, it } from 'vitest';
import { foldRefusals } from './refusal-folding.js';

describe('refusal folding', () => {
  it('records one refusal per reason and address per window, then the count folded since', () => {
    let t = 0;
    const records: [string, string | undefined, number][] = [];
    const refuse = foldRefusals(
      (reason, ip, folded) => records.push([reason, ip, folded]),
      10_000,
      () => t,
    );
    for (let i = 0; i < 50; i += 1) refuse('handshake_failed', '192.0.2.7');
    refuse('client_pin_mismatch', '192.0.2.7');
    refuse('handshake_failed', '198.51.100.1');
    refuse('handshake_failed', undefined);
    t = 9_999;
    refuse('handshake_failed', '192.0.2.7');
    t = 10_000;
    refuse('handshake_failed', '192.0.2.7');
    t = 30_000;
    refuse('handshake_failed', '192.0.2.7');
    expect(records).toEqual([
      ['handshake_failed', '192.0.2.7', 0],
      ['client_pin_mismatch', '192.0.2.7', 0],
      ['handshake_failed', '198.51.100.1', 0],
      ['handshake_failed', undefined, 0],
      // 49 more in the first window, and one at 9.999 s.
      ['handshake_failed', '192.0.2.7', 50],
      ['handshake_failed', '192.0.2.7', 0],
    ]);
  });
});
