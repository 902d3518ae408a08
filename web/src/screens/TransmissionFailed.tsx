import type { ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { TransmissionFailures } from '../api/types.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';

/** The error code of a failed electronic transmission (src/network/outbox-worker.ts). */
export const PRINT_REQUIRED = 'transmission_failed.print_required';

/**
 * The DEA 1311.170 print path on a prescription: the electronic transmission failed, so the
 * prescriber prints the copy (marked as such, for a manual signature) and gives it to the patient
 * or the pharmacy. The copy opens in a new tab; printing it is recorded on the timeline.
 */
export function PrintBanner(props: {
  readonly id: string;
  readonly canPrint: boolean;
  readonly onPrinted: () => void;
}): ReactNode {
  return (
    <section className="note warn" role="alert" aria-labelledby="print-heading">
      <h2 id="print-heading">Electronic transmission failed</h2>
      <p>
        This prescription could not be delivered to the pharmacy. Print a copy, sign it by hand and
        give it to the patient or the pharmacy.
      </p>
      {props.canPrint ? (
        <button
          type="button"
          onClick={() => {
            window.open(fill(ENDPOINTS.rxPrint[1], { id: props.id }), '_blank', 'noopener');
            props.onPrinted();
          }}
        >
          Print a copy
        </button>
      ) : (
        <p>Only the prescriber who signed it can print the copy.</p>
      )}
    </section>
  );
}

/** The prescriber's failed transmissions that still need a printed copy (on the home page). */
export function FailedTransmissions(): ReactNode {
  const list = useLoad(
    (signal) => api.get<TransmissionFailures>(ENDPOINTS.transmissionFailures[1], { signal }),
    [],
  );
  const items = list.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <section className="note warn" role="alert" aria-labelledby="failed-heading">
      <h2 id="failed-heading">Prescriptions that could not be sent</h2>
      <p>Their electronic transmission failed: open each one and print a copy to sign by hand.</p>
      <ul>
        {items.map((f) => (
          <li key={f.prescriptionId}>
            <Link to={`/prescriptions/${f.prescriptionId}`}>
              Prescription failed {new Date(f.failedAt).toLocaleString()}
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
