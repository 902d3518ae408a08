import type { ReactNode } from 'react';
import { Badge } from '../../components/console.js';

/** Words for the inbox states (the server's tokens stay in the API). */
export const STATUS_LABEL: Readonly<Record<string, string>> = {
  received: 'Received',
  accepted: 'Accepted',
  partially_dispensed: 'Partially dispensed',
  dispensed: 'Dispensed',
  cancelled: 'Cancelled',
};

export function StatusBadge(props: { readonly status: string }): ReactNode {
  const tone =
    props.status === 'dispensed'
      ? 'ok'
      : props.status === 'cancelled'
        ? 'neutral'
        : props.status === 'received'
          ? 'warn'
          : 'neutral';
  return <Badge tone={tone}>{STATUS_LABEL[props.status] ?? props.status}</Badge>;
}

/** The prescriber's cancellation request, in words (text, never color alone). */
export function CancelBadge(props: { readonly cancelStatus: string }): ReactNode {
  switch (props.cancelStatus) {
    case 'requested':
      return <Badge tone="error">Cancel requested</Badge>;
    case 'approved':
      return <Badge tone="neutral">Cancel approved</Badge>;
    case 'denied':
      return <Badge tone="neutral">Cancel denied</Badge>;
    default:
      return <span className="muted">No</span>;
  }
}

export function SignatureBadge(props: { readonly status: string }): ReactNode {
  return props.status === 'verified' ? (
    <Badge tone="ok">Signature verified</Badge>
  ) : (
    <Badge tone="warn">Unsigned</Badge>
  );
}

/** A date of birth or written date (YYYY-MM-DD) as written: no time zone shift. */
export function day(iso: string | undefined): string {
  return iso === undefined || iso === '' ? '—' : iso.slice(0, 10);
}

/** NCI Thesaurus quantity units (NCPDP QuantityUnitOfMeasure) as words. */
const UNITS: Readonly<Record<string, string>> = {
  C48542: 'tablet',
  C48480: 'capsule',
  C28254: 'mL',
  C48524: 'patch',
  C64933: 'each',
  C38046: 'unit unspecified',
};

export function unit(code: string): string {
  return UNITS[code] ?? code;
}

/** DEA schedules as NCI Thesaurus codes (MedicationPrescribed) or already as CII…CV. */
const SCHEDULES: Readonly<Record<string, string>> = {
  C48672: 'CI',
  C48675: 'CII',
  C48676: 'CIII',
  C48677: 'CIV',
  C48679: 'CV',
};

export function schedule(code: string | null | undefined): string | undefined {
  if (code === null || code === undefined || code === 'C38046') return undefined;
  return SCHEDULES[code] ?? code;
}
