import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packagePath } from '../../src/db/index.js';
import { buildMessage, errorResponse, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { MESSAGE_TYPES } from '../../src/network/ncpdp-script.types.js';

/**
 * Fuzzing the SCRIPT parser with malformed input: every answer must be a refusal that becomes a
 * SCRIPT Error message, no exception may escape, and each input is answered in bounded time.
 */
const fixtures = MESSAGE_TYPES.map((t) =>
  readFileSync(packagePath(`test/fixtures/ncpdp/${t}.xml`), 'utf8'),
);
const self = {
  party: { qualifier: 'M' as const, id: 'SCRIP-SWITCH' },
  messageId: 'ERR-FUZZ',
  sentTime: '2026-03-01T09:00:00Z',
  software: { developer: 'Scrip', product: 'Scrip switch', version: '0.1.0' },
};
// Generous for a loaded 2-core CI machine; a hang or super-linear blow-up still trips it.
const PER_INPUT_MS = 1000;

function assertRefused(input: string | Uint8Array): void {
  const started = performance.now();
  let result: ReturnType<typeof parseMessage> | undefined;
  expect(() => {
    result = parseMessage(input);
  }).not.toThrow();
  expect(performance.now() - started).toBeLessThan(PER_INPUT_MS);
  expect(result?.ok).toBe(false);
  if (result === undefined || result.ok) return;
  const reply = errorResponse(result.error, self);
  expect(reply.type).toBe('Error');
  // The Error itself is a valid SCRIPT message.
  expect(parseMessage(buildMessage(reply)).ok).toBe(true);
}

const fixture = fc.constantFrom(...fixtures);
const HOSTILE = [
  '<',
  '&',
  '<!DOCTYPE x>',
  '<?pi x?>',
  '<!--',
  '<![CDATA[',
  '&bogus;',
  '\u0000',
  '</',
];

/** Lines holding one whole leaf element, e.g. `<City>Springfield</City>`. */
const leafLine = /^\s*<([A-Za-z]+)[^>]*>[^<]*<\/\1>$/;

describe('NCPDP SCRIPT parser fuzzing', () => {
  it('refuses truncated fixtures', () => {
    fc.assert(
      fc.property(fixture, fc.nat(), (xml, n) => {
        assertRefused(xml.slice(0, n % (xml.trimEnd().length - 1)));
      }),
      { numRuns: 800 },
    );
  });

  it('refuses fixtures with hostile markup inserted anywhere', () => {
    fc.assert(
      fc.property(fixture, fc.nat(), fc.constantFrom(...HOSTILE), (xml, n, s) => {
        const at = n % xml.length;
        assertRefused(xml.slice(0, at) + s + xml.slice(at));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses text or references after the root element (found by this fuzzer)', () => {
    for (const xml of fixtures) {
      for (const tail of ['&bogus;', 'x', '&amp;', '<'])
        assertRefused(`${xml.trimEnd()}\n${tail}\n`);
      assertRefused(`x${xml}`);
    }
  });

  it('refuses fixtures with a leaf element repeated or two adjacent lines swapped', () => {
    fc.assert(
      fc.property(fixture, fc.nat(), fc.boolean(), (xml, n, swap) => {
        const lines = xml.split('\n');
        if (swap) {
          const i = 2 + (n % (lines.length - 4));
          const [a, b] = [lines[i]!, lines[i + 1]!];
          fc.pre(a.trim() !== b.trim());
          lines[i] = b;
          lines[i + 1] = a;
        } else {
          const leaves = lines.map((l, i) => (leafLine.test(l) ? i : -1)).filter((i) => i >= 0);
          const i = leaves[n % leaves.length]!;
          lines.splice(i, 0, lines[i]!);
        }
        assertRefused(lines.join('\n'));
      }),
      { numRuns: 800 },
    );
  });

  it('refuses random bytes and random strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        assertRefused(bytes);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 512 }), (s) => {
        assertRefused(`<Message>${s}`);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses deep nesting, wide documents, billion laughs and external entities quickly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 17, max: 100_000 }), (depth) => {
        assertRefused('<a>'.repeat(depth) + '</a>'.repeat(depth));
      }),
      { numRuns: 50 },
    );
    assertRefused('<Message>' + '<a/>'.repeat(20_000) + '</Message>');
    assertRefused('<Message>' + 'x'.repeat(256 * 1024) + '</Message>');
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ).join('') +
      ']><Message>&lol9;</Message>';
    assertRefused(laughs);
    assertRefused(
      '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Message>&xxe;</Message>',
    );
    assertRefused(
      '<?xml version="1.0"?><!DOCTYPE m SYSTEM "http://127.0.0.1:1/evil.dtd"><Message/>',
    );
    assertRefused(
      '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p">%p;]><Message/>',
    );
    assertRefused('<?xml-stylesheet href="x"?>' + fixtures[0]!.replace(/^<\?xml[^>]*>/, ''));
    assertRefused(fixtures[0]!.replace('<Message', '<Message a="<"'));
    assertRefused(fixtures[0]!.replace('<LastName>', '<LastName>&#0;'));
    assertRefused(fixtures[0]!.replace('<LastName>', '<LastName>&#xD800;'));
  });
});
