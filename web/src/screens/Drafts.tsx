import type { ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { PatientSummary, RxSummary } from '../api/types.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';
import { patientName } from './Patients.js';
import { drugText, statusLabel } from './PatientSummary.js';

interface QueueRow {
  readonly patient: PatientSummary;
  readonly rx: RxSummary;
}

/**
 * Prescriptions waiting for a prescriber (drafts and ready ones) across the patients whose care
 * team the user is on: the agent's work queue, and the prescriber's to-sign list.
 */
export function Drafts(): ReactNode {
  const q = useLoad(async (signal): Promise<QueueRow[]> => {
    const mine = await api.get<{ patients: PatientSummary[] }>(
      `${ENDPOINTS.myPatients[1]}?limit=50`,
      { signal },
    );
    const rows: QueueRow[] = [];
    for (const patient of mine.patients) {
      const r = await api.get<{ prescriptions: RxSummary[] }>(
        fill(ENDPOINTS.patientPrescriptions[1], { patientId: patient.id }),
        { signal },
      );
      for (const rx of r.prescriptions) {
        if (rx.status === 'draft' || rx.status === 'ready') rows.push({ patient, rx });
      }
    }
    return rows.sort((a, b) => a.rx.createdAt.localeCompare(b.rx.createdAt));
  }, []);
  return (
    <section>
      <h1>Drafts and prescriptions to sign</h1>
      {q.loading && q.data === undefined ? <Loading label="Loading the queue…" /> : null}
      {q.error === undefined ? null : (
        <ErrorNote error={q.error} action="Could not load the queue" />
      )}
      {q.data === undefined ? null : q.data.length === 0 ? (
        <Empty>Nothing is waiting. New drafts appear here.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Patient</th>
              <th scope="col">Medication</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map(({ patient, rx }) => (
              <tr key={rx.id}>
                <td>
                  <Link to={`/patients/${patient.id}`}>{patientName(patient)}</Link>
                </td>
                <td>
                  <Link to={`/prescriptions/${rx.id}`}>{drugText(rx.drugName, rx.strength)}</Link>{' '}
                  {rx.deaSchedule === null ? null : (
                    <span className="badge cs">Schedule {rx.deaSchedule}</span>
                  )}
                </td>
                <td>{statusLabel(rx.status)}</td>
                <td>{new Date(rx.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
