import { useState, type ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { PrescriberRequest } from '../api/types.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';

/** Common SCRIPT denial reasons (ReasonCode) a prescriber picks from. */
const DENIAL_REASONS: readonly (readonly [string, string])[] = [
  ['AA', 'Patient unknown to the prescriber'],
  ['AB', 'Patient never under the prescriber’s care'],
  ['AC', 'Patient no longer under the prescriber’s care'],
  ['AD', 'Refill requested too soon'],
  ['AE', 'Medication never prescribed for the patient'],
  ['AF', 'Patient should contact the prescriber first'],
  ['AG', 'Refill not appropriate'],
];

/**
 * Renewal and change requests from pharmacies for the signed-in prescriber: approve (a renewal
 * creates the linked renewal draft) or deny with a SCRIPT reason.
 */
export function PharmacyRequests(): ReactNode {
  const q = useLoad(
    (signal) =>
      api.get<{ items: PrescriberRequest[] }>(ENDPOINTS.prescriberRequests[1], { signal }),
    [],
  );
  const [reason, setReason] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);

  const decide = async (r: PrescriberRequest, approve: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      if (approve) await api.post(fill(ENDPOINTS.prescriberRequestApprove[1], { id: r.id }), {});
      else {
        await api.post(fill(ENDPOINTS.prescriberRequestDeny[1], { id: r.id }), {
          reasonCode: reason[r.id] ?? DENIAL_REASONS[0]?.[0] ?? 'AA',
        });
      }
      setDone(
        approve
          ? 'Approved; the answer goes to the pharmacy.'
          : 'Denied; the answer goes to the pharmacy.',
      );
      q.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const items = q.data?.items ?? [];
  return (
    <section>
      <h1>Pharmacy requests</h1>
      {q.loading && q.data === undefined ? <Loading /> : null}
      {q.error === undefined ? null : (
        <ErrorNote error={q.error} action="Could not load the requests" />
      )}
      {q.data === undefined ? null : items.length === 0 ? (
        <Empty>No renewal or change request is waiting.</Empty>
      ) : (
        items.map((r) => (
          <fieldset key={r.id}>
            <legend>
              {r.kind === 'renewal' ? 'Renewal' : 'Change'} request from {r.pharmacy.name}
            </legend>
            <p>
              {r.drugDescription}
              {r.changeCode === null ? '' : ` (change code ${r.changeCode})`} — received{' '}
              {new Date(r.receivedAt).toLocaleString()}
            </p>
            <p>
              {r.patientId === null ? null : (
                <Link to={`/patients/${r.patientId}`}>Patient summary</Link>
              )}{' '}
              {r.prescriptionId === null ? null : (
                <Link to={`/prescriptions/${r.prescriptionId}`}>Original prescription</Link>
              )}
            </p>
            <div className="actions">
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  void decide(r, true);
                }}
              >
                Approve
              </button>
              <label>
                Reason to deny
                <select
                  value={reason[r.id] ?? DENIAL_REASONS[0]?.[0]}
                  onChange={(e) => {
                    setReason({ ...reason, [r.id]: e.target.value });
                  }}
                >
                  {DENIAL_REASONS.map(([code, text]) => (
                    <option key={code} value={code}>
                      {text}
                    </option>
                  ))}
                </select>
              </label>
              <button
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => {
                  void decide(r, false);
                }}
              >
                Deny
              </button>
            </div>
          </fieldset>
        ))
      )}
      {done === undefined ? null : (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not done" />}
    </section>
  );
}
