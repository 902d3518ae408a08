import { describe, expect, it } from 'vitest';
import { samples } from '../../test/network/ncpdp-samples.js';
import type { ScriptMessage } from '../network/ncpdp-script.types.js';
import {
  directionAllowed,
  isAnswer,
  isControlled,
  requiredLevels,
  supports,
} from './switch-routing.js';
import type { Participant } from './participants.js';

const pharmacy = (levels: Participant['serviceLevels']): Participant => ({
  id: 'p',
  kind: 'pharmacy',
  addresses: [{ qualifier: 'P', value: '1234567' }],
  endpointUrl: 'https://p.example/ncpdp/script',
  serverPins: { primary: `${'A'.repeat(43)}=` },
  clientPins: { primary: `${'B'.repeat(43)}=` },
  serviceLevels: levels,
  active: true,
});

describe('switch routing rules', () => {
  it('needs the transaction level, plus controlled for a Schedule II–V prescription to a pharmacy', () => {
    expect(isControlled(samples.NewRx)).toBe(true); // oxycodone, CII
    expect(requiredLevels(samples.NewRx)).toEqual(['new', 'controlled']);
    expect(requiredLevels(samples.CancelRx)).toEqual(['cancel']); // amoxicillin
    expect(requiredLevels(samples.RxRenewalRequest)).toEqual(['renewal']);
    expect(requiredLevels(samples.RxChangeRequest)).toEqual(['change']);
    expect(requiredLevels(samples.RxFill)).toEqual(['new']);
    expect(requiredLevels(samples.Status)).toEqual([]);
    expect(supports(pharmacy(['new']), samples.NewRx)).toBe(false);
    expect(supports(pharmacy(['new', 'controlled']), samples.NewRx)).toBe(true);
  });

  it('lets prescriptions go D → P and pharmacy requests P → D only', () => {
    expect(directionAllowed(samples.NewRx)).toBe(true);
    expect(directionAllowed(samples.RxRenewalRequest)).toBe(true);
    const reversed = (m: ScriptMessage): ScriptMessage => ({
      ...m,
      header: { ...m.header, to: m.header.from, from: m.header.to },
    });
    expect(directionAllowed(reversed(samples.NewRx))).toBe(false);
    expect(directionAllowed(reversed(samples.RxRenewalRequest))).toBe(false);
    expect(directionAllowed(reversed(samples.Status))).toBe(true);
    expect(isAnswer('Error')).toBe(true);
    expect(isAnswer('NewRx')).toBe(false);
  });
});
