/**
 * The model of the pharmacy inbox: a received prescription as the service returns it, the
 * pharmacist's action records and inputs, and exact arithmetic on SCRIPT decimal quantities.
 */
import type { EncryptedTable } from '../crypto/row-cipher.js';
import type { ChangeRequestCode, NewRxBody } from '../network/ncpdp-script.types.js';
import type { CancelStatus, InboxStatus, SignatureStatus } from './pharmacy.types.js';

/** The pharmacist's action log (sealed details: quantities, notes, reasons). */
export const PHARMACY_ACTIONS: EncryptedTable = { table: 'pharmacy_actions', columns: ['detail'] };

export type ActionKind =
  'accept' | 'fill' | 'cancel_response' | 'renewal_request' | 'change_request';

export interface ActionRecord {
  readonly kind: ActionKind;
  readonly messageId: string;
  readonly messageType: string;
  readonly actorId: string;
  readonly at: Date;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** A received prescription as the service returns it (routes shape it per view). */
export interface ReceivedPrescription {
  readonly id: string;
  readonly pharmacy: { readonly id: string; readonly ncpdpId: string; readonly name: string };
  readonly senderId: string;
  readonly messageId: string;
  readonly prescriberOrderNumber: string | null;
  readonly status: InboxStatus;
  readonly cancelStatus: CancelStatus;
  readonly deaSchedule: string | null;
  readonly signature: {
    readonly status: SignatureStatus;
    readonly keyId: string | null;
    readonly verifiedAt: Date | null;
    readonly jws: string | null;
  };
  readonly receivedAt: Date;
  readonly updatedAt: Date;
  /** The NewRx as received (already verified against the signature at receipt). */
  readonly body: NewRxBody | null;
  readonly quantityDispensed: string;
  readonly actions: readonly ActionRecord[];
}

export interface DispenseInput {
  /** Canonical decimal, greater than zero. */
  readonly quantity: string;
  readonly ndc?: string;
  readonly daysSupply?: number;
  readonly note?: string;
}

export type CancelAnswer =
  | { readonly decision: 'approve'; readonly note?: string }
  | { readonly decision: 'deny'; readonly reasonCode: string; readonly reason?: string };

export interface RequestedMedication {
  readonly drugDescription: string;
  readonly rxnorm?: string;
  readonly ndc?: string;
  readonly quantity?: string;
  readonly daysSupply?: number;
  readonly sig?: string;
  readonly note?: string;
}

export interface ChangeInput {
  readonly code: ChangeRequestCode;
  readonly requested: readonly RequestedMedication[];
}

export interface InboxQuery {
  readonly status?: InboxStatus;
  readonly limit: number;
  readonly offset: number;
}

/** An inbox row as the choke point selects it. */
export interface InboxRow {
  id: string;
  pharmacy_id: string;
  ncpdp_id: string;
  pharmacy_name: string;
  sender_id: string;
  message_id: string;
  prescriber_order_number: string | null;
  dea_schedule: string | null;
  status: InboxStatus;
  cancel_status: CancelStatus;
  signature: SignatureStatus;
  key_id: string | null;
  verified_at: Date | null;
  received_at: Date;
  updated_at: Date;
}

export const DECIMAL_RE = /^(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?$/;

/** Decimal strings to integer units of 1e-5 (exact for the canonical decimals SCRIPT allows). */
export function units(v: string): bigint {
  const [int = '0', frac = ''] = v.split('.');
  return BigInt(int) * 100_000n + BigInt(frac.padEnd(5, '0'));
}
export function fromUnits(u: bigint): string {
  const int = u / 100_000n;
  const frac = (u % 100_000n).toString().padStart(5, '0').replace(/0+$/, '');
  return frac === '' ? int.toString() : `${int.toString()}.${frac}`;
}

/** The total quantity of the fills recorded (units of 1e-5). */
export function dispensedUnits(actions: readonly ActionRecord[]): bigint {
  let total = 0n;
  for (const a of actions) {
    const q = a.detail.quantity;
    if (a.kind === 'fill' && typeof q === 'string') total += units(q);
  }
  return total;
}
