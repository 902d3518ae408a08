import { createHash } from 'node:crypto';

/** A well-formed pin-sha256 value (base64 of 32 bytes) derived from a label. */
export function pin(label: string): string {
  return createHash('sha256').update(label).digest('base64');
}

/** A valid directory row; `over` replaces fields. */
export function pharmacyRow(
  ncpdpId: string,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ncpdpId,
    npi: '1234567893',
    name: `Main Street Pharmacy ${ncpdpId}`,
    address: { line: '1 Main St', city: 'Springfield', state: 'IL', zip: '62704' },
    phone: '2175550100',
    serviceLevels: ['new', 'cancel', 'renewal'],
    endpointUrl: `https://rx.example.test/${ncpdpId}/script`,
    pins: { primary: pin(`${ncpdpId}-a`), backup: pin(`${ncpdpId}-b`) },
    active: true,
    ...over,
  };
}

export const jsonl = (rows: readonly Record<string, unknown>[]): string =>
  rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
