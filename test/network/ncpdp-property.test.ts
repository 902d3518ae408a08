import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { scriptMessage } from './ncpdp-arbitraries.js';

describe('NCPDP SCRIPT codec properties', () => {
  it('parse(build(m)) equals m for generated messages of every type', () => {
    fc.assert(
      fc.property(scriptMessage, (m) => {
        const xml = buildMessage(m);
        const back = parseMessage(xml);
        expect(back).toEqual({ ok: true, message: m });
        // Building is deterministic: the parsed message writes the same bytes.
        if (back.ok) expect(buildMessage(back.message)).toBe(xml);
      }),
      { numRuns: 300 },
    );
  });

  it('the same message as UTF-8 bytes parses the same', () => {
    fc.assert(
      fc.property(scriptMessage, (m) => {
        expect(parseMessage(Buffer.from(buildMessage(m), 'utf8'))).toEqual({
          ok: true,
          message: m,
        });
      }),
      { numRuns: 100 },
    );
  });
});
