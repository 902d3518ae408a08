import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { packagePath } from '../db/index.js';
import { buildMessage, errorResponse, parseMessage } from './ncpdp-script.codec.js';
import { MESSAGE_TYPES, type ScriptMessage } from './ncpdp-script.types.js';
import { samples } from '../../test/network/ncpdp-samples.js';

const fixture = (type: string): string =>
  readFileSync(packagePath(`test/fixtures/ncpdp/${type}.xml`), 'utf8');

function parsed(xml: string): ScriptMessage {
  const r = parseMessage(xml);
  if (!r.ok) throw new Error(`refused: ${r.error.code} at ${r.error.path ?? '-'}`);
  return r.message;
}

const self = {
  party: { qualifier: 'P' as const, id: '1234567' },
  messageId: 'ERR-1',
  sentTime: '2026-03-01T09:00:00Z',
  software: { developer: 'Scrip', product: 'Scrip eRx', version: '0.1.0' },
};

describe('NCPDP SCRIPT 2017071 codec: fixtures', () => {
  for (const type of MESSAGE_TYPES) {
    it(`${type}: the fixture parses to the expected model, and the model round-trips`, () => {
      const expected = samples[type];
      expect(parsed(fixture(type))).toEqual(expected);
      const xml = buildMessage(expected);
      expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><Message ')).toBe(true);
      expect(parsed(xml)).toEqual(expected);
    });
  }

  it('escapes markup in text on build and restores it on parse', () => {
    const xml = buildMessage(samples.NewRx);
    expect(xml).toContain('<LastName>O&apos;Brien &amp; Sons</LastName>');
    expect(xml).toContain('pain &lt;severe&gt; &amp; &quot;breakthrough&quot;');
    expect(xml).not.toContain('<severe>');
  });

  it('reads the schedule, NDC, RxNorm, quantity unit and earliest fill date of a CII NewRx', () => {
    const m = parsed(fixture('NewRx'));
    if (m.type !== 'NewRx') throw new Error('type');
    const med = m.body.medicationPrescribed;
    expect(med.deaSchedule).toBe('C48675');
    expect(med.ndc).toBe('00406055262');
    expect(med.rxnorm).toEqual({ code: '1049621', qualifier: 'SCD' });
    expect(med.quantity).toEqual({ value: '20', codeListQualifier: '38', unitCode: 'C48542' });
    expect(med.earliestFillDate).toBe('2026-03-02');
    expect(m.header.digitalSignature).toEqual({ version: '1.1', indicator: true });
  });

  it('refuses to build an invalid model (programmer misuse)', () => {
    const bad = {
      ...samples.NewRx,
      body: { ...samples.NewRx.body, pharmacy: { ...samples.NewRx.body.pharmacy, ncpdpId: '12' } },
    };
    expect(() => buildMessage(bad)).toThrow(TypeError);
  });
});

describe('NCPDP SCRIPT 2017071 codec: refusals', () => {
  const newRx = fixture('NewRx');

  const refuse = (
    xml: string | Uint8Array,
  ): { code: string; path?: string; messageId?: string } => {
    const r = parseMessage(xml);
    expect(r.ok).toBe(false);
    if (r.ok) throw new Error('accepted');
    return r.error;
  };

  it('refuses DTDs, entity declarations, processing instructions, comments and CDATA', () => {
    const withDoctype = newRx.replace(
      '<Message',
      '<!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<Message',
    );
    expect(refuse(withDoctype).code).toBe('forbidden_markup');
    expect(refuse(newRx.replace('<Body>', '<Body><?php echo 1 ?>')).code).toBe('forbidden_markup');
    expect(refuse(newRx.replace('<Body>', '<Body><!-- c -->')).code).toBe('forbidden_markup');
    expect(refuse(newRx.replace('<Note>', '<Note><![CDATA[x]]>')).code).toBe('forbidden_markup');
    expect(refuse(newRx.replace('Ada', '&xxe;')).code).toBe('forbidden_markup');
  });

  it('refuses oversized, deeply nested, non-UTF-8 and multi-root input', () => {
    expect(refuse('<a>' + 'x'.repeat(300 * 1024) + '</a>').code).toBe('too_large');
    expect(refuse('<a>'.repeat(5000) + '</a>'.repeat(5000)).code).toBe('too_deep');
    expect(refuse(new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])).code).toBe(
      'encoding',
    );
    expect(refuse(newRx + '<Message/>').code).toBe('malformed');
    expect(refuse(newRx.replace('UTF-8', 'ISO-8859-1')).code).toBe('encoding');
  });

  it('refuses unknown message types and other SCRIPT versions', () => {
    expect(refuse(fixture('Status').replaceAll('Status>', 'Census>')).code).toBe(
      'unknown_message_type',
    );
    expect(refuse(newRx.replace('ECLVersion="20170715"', 'ECLVersion="20230115"')).code).toBe(
      'unsupported_version',
    );
  });

  it('refuses missing, unknown, repeated or out-of-order elements and bad values, keeping the MessageID', () => {
    const missing = refuse(newRx.replace(/<Gender>F<\/Gender>/, ''));
    expect(missing).toMatchObject({
      code: 'missing_element',
      path: 'Message/Body/NewRx/Patient/HumanPatient/Gender',
      messageId: 'MSG-0001',
    });
    expect(
      refuse(newRx.replace('<Gender>F</Gender>', '<Gender>F</Gender><Shoe>9</Shoe>')).code,
    ).toBe('missing_element');
    expect(
      refuse(
        newRx.replace(
          '<DaysSupply>5</DaysSupply>',
          '<DaysSupply>5</DaysSupply><DaysSupply>5</DaysSupply>',
        ),
      ).code,
    ).toBe('missing_element');
    expect(refuse(newRx.replace('<NPI>1234567893</NPI>', '<NPI>1234567890</NPI>')).code).toBe(
      'invalid_value',
    );
    expect(refuse(newRx.replace('1984-07-09', '1984-02-30')).code).toBe('invalid_value');
    expect(refuse(newRx.replace('<Value>20</Value>', '<Value>1e3</Value>')).code).toBe(
      'invalid_value',
    );
    expect(refuse(newRx.replace('<Value>20</Value>', '<Value>0</Value>')).code).toBe(
      'invalid_value',
    );
    expect(refuse(newRx.replace('C48675', 'C99999')).code).toBe('invalid_value');
    expect(refuse(newRx.replace('09:15:30.125Z', '09:15:30')).code).toBe('invalid_value');
  });

  it('builds an Error (900) relating to the received MessageID without echoing input', () => {
    const secret = 'Zebediah';
    const error = refuse(
      newRx.replace('<FirstName>Ada</FirstName>', `<FirstName>${secret}\u0007</FirstName>`),
    );
    expect(error.code).toBe('malformed');
    const invalid = refuse(newRx.replace('1984-07-09', secret));
    const reply = errorResponse(invalid as Parameters<typeof errorResponse>[0], self);
    expect(reply.type).toBe('Error');
    expect(reply.header.relatesToMessageId).toBe('MSG-0001');
    expect(reply.header.to).toEqual({ qualifier: 'D', id: 'SCRIP-CLINIC-01' });
    expect(reply.body).toMatchObject({ code: '900', descriptionCode: '002' });
    const xml = buildMessage(reply);
    expect(xml).not.toContain(secret);
    expect(JSON.stringify(invalid)).not.toContain(secret);
    // Unreadable input: the Error goes to an unknown mailbox with no RelatesToMessageID.
    const opaque = errorResponse(refuse('not xml') as Parameters<typeof errorResponse>[0], self);
    expect(opaque.header.relatesToMessageId).toBeUndefined();
    expect(parsed(buildMessage(opaque)).type).toBe('Error');
  });
});
