/**
 * What the pharmacist screens read from and send to /api/v1/pharmacy/inbox
 * (src/http/routes/pharmacy-inbox.schemas.ts), checked against the server's schemas at
 * typecheck time by test/web/pharmacy-types.ts.
 */

export interface InboxPharmacy {
  readonly id: string;
  readonly ncpdpId: string;
  readonly name: string;
}

interface Common {
  readonly id: string;
  readonly pharmacy: InboxPharmacy;
  readonly status: string;
  readonly cancelStatus: string;
  readonly deaSchedule: string | null;
  readonly controlled: boolean;
  readonly signatureStatus: string;
  readonly receivedAt: string;
  readonly updatedAt: string;
  readonly quantityDispensed: string;
}

export interface InboxDrug {
  readonly description: string;
  readonly quantity: string;
  readonly unitCode: string;
}

/** One line of the inbox (a summary: no sig, notes, addresses or signature). */
export interface InboxSummary extends Common {
  readonly patient: {
    readonly lastName: string;
    readonly firstName: string;
    readonly birthDate: string;
  } | null;
  readonly drug: InboxDrug | null;
  readonly prescriber: {
    readonly lastName: string;
    readonly firstName: string;
    readonly npi: string;
  } | null;
}

export interface InboxAddress {
  readonly line1: string;
  readonly line2?: string;
  readonly city: string;
  readonly state: string;
  readonly postalCode: string;
  readonly countryCode?: string;
}

export interface InboxMedication {
  readonly drugDescription: string;
  readonly ndc?: string;
  readonly strength?: { readonly value: string; readonly unitCode: string };
  readonly rxnorm?: { readonly code: string; readonly qualifier: string };
  readonly deaSchedule?: string;
  readonly quantity: {
    readonly value: string;
    readonly codeListQualifier: string;
    readonly unitCode: string;
  };
  readonly daysSupply?: number;
  readonly writtenDate: string;
  readonly substitutions: string;
  readonly numberOfRefills: number;
  readonly note?: string;
  readonly sig: string;
  readonly earliestFillDate?: string;
}

export interface InboxAction {
  readonly kind: string;
  readonly messageType: string;
  readonly messageId: string;
  readonly actorId: string;
  readonly at: string;
  readonly quantity?: string;
  readonly fillStatus?: string;
  readonly decision?: string;
  readonly code?: string;
  readonly note?: string;
}

/** One received prescription as pharmacy staff see it (the dispensing view). */
export interface InboxItem extends Common {
  readonly senderId: string;
  readonly messageId: string;
  readonly prescriberOrderNumber: string | null;
  readonly patient: {
    readonly lastName: string;
    readonly firstName: string;
    readonly middleName?: string;
    readonly gender: string;
    readonly birthDate: string;
    readonly address?: InboxAddress;
    readonly phone?: string;
  } | null;
  readonly prescriber: {
    readonly lastName: string;
    readonly firstName: string;
    readonly npi: string;
    readonly deaNumber?: string;
    readonly stateLicenseNumber?: string;
    readonly address?: InboxAddress;
    readonly phone?: string;
  } | null;
  readonly drug: InboxDrug | null;
  readonly medication: InboxMedication | null;
  readonly signature: {
    readonly status: string;
    readonly keyId: string | null;
    readonly verifiedAt: string | null;
    readonly jws: string | null;
  };
  readonly actions: readonly InboxAction[];
}

export interface DispenseBody {
  quantity: string;
  ndc?: string;
  daysSupply?: number;
  note?: string;
}

export interface CancelAnswerBody {
  decision: 'approve' | 'deny';
  note?: string;
  reasonCode?: string;
  reason?: string;
}

export interface RenewalBody {
  note?: string;
}

export type ChangeCode = 'G' | 'T' | 'P' | 'U' | 'S' | 'OS' | 'D';

export interface ChangeBody {
  code: ChangeCode;
  requested: {
    drugDescription: string;
    rxnorm?: string;
    ndc?: string;
    quantity?: string;
    daysSupply?: number;
    sig?: string;
    note?: string;
  }[];
}
