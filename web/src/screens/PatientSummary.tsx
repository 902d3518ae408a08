import type { ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { PatientFull, RxSummary } from '../api/types.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';
import { useMe } from '../session.js';
import { patientName } from './Patients.js';
import type { ScreenProps } from './registry.js';

/** The drug as shown: the catalog name, with the strength unless the name carries it already. */
export function drugText(name: string, strength: string | null | undefined): string {
  if (strength === null || strength === undefined || strength === '') return name;
  return name.toLowerCase().includes(strength.toLowerCase()) ? name : `${name} ${strength}`;
}

export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

/** One patient: demographics, allergies, active medications, recent prescriptions. */
export function PatientSummaryScreen(props: ScreenProps): ReactNode {
  const id = props.params.id ?? '';
  const me = useMe();
  const patient = useLoad(
    (signal) => api.get<PatientFull>(fill(ENDPOINTS.patient[1], { id }), { signal }),
    [id],
  );
  const rx = useLoad(
    (signal) =>
      api.get<{ prescriptions: RxSummary[] }>(
        fill(ENDPOINTS.patientPrescriptions[1], { patientId: id }),
        { signal },
      ),
    [id],
  );
  if (patient.loading && patient.data === undefined)
    return <Loading label="Loading the patient…" />;
  if (patient.data === undefined)
    return <ErrorNote error={patient.error} action="Could not load the patient" />;
  const p = patient.data;
  const allergies = (p.allergies ?? []).filter((a) => a.status === 'active');
  const meds = (p.medications ?? []).filter((m) => m.status === 'active');
  const prescriptions = rx.data?.prescriptions ?? [];
  const awaitingControlled = prescriptions.some(
    (r) => r.deaSchedule !== null && (r.status === 'ready' || r.status === 'draft'),
  );
  const canDraft = me.permissions.includes('rx.draft');
  const canSignControlled = me.permissions.includes('rx.sign.controlled');
  return (
    <>
      <section aria-labelledby="patient-heading">
        <h1 id="patient-heading">{patientName(p)}</h1>
        <dl className="facts">
          <dt>Date of birth</dt>
          <dd>{p.birthDate ?? '—'}</dd>
          <dt>MRN</dt>
          <dd>{p.mrn ?? '—'}</dd>
          {p.phone === undefined ? null : (
            <>
              <dt>Phone</dt>
              <dd>{p.phone}</dd>
            </>
          )}
          {p.address === undefined ? null : (
            <>
              <dt>Address</dt>
              <dd>{p.address}</dd>
            </>
          )}
          <dt>Preferred pharmacy</dt>
          <dd>{p.preferredPharmacy?.ncpdpId ?? 'None recorded'}</dd>
        </dl>
        <div className="actions">
          {canDraft ? <Link to={`/patients/${id}/prescribe`}>New prescription</Link> : null}
          {canSignControlled && awaitingControlled ? (
            <Link to={`/patients/${id}/epcs`}>Review and sign controlled prescriptions</Link>
          ) : null}
        </div>
      </section>
      <section aria-labelledby="allergies-heading">
        <h2 id="allergies-heading">Allergies</h2>
        {allergies.length === 0 ? (
          <Empty>No known allergies recorded.</Empty>
        ) : (
          <ul>
            {allergies.map((a) => (
              <li key={a.id}>
                <strong>{a.substance}</strong>
                {a.reaction === undefined ? '' : ` — ${a.reaction}`}
                {a.severity === undefined ? '' : ` (${a.severity})`}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="meds-heading">
        <h2 id="meds-heading">Active medications</h2>
        {meds.length === 0 ? (
          <Empty>No active medications recorded.</Empty>
        ) : (
          <ul>
            {meds.map((m) => (
              <li key={m.id}>
                {m.name}
                {m.dosage === undefined ? '' : ` — ${m.dosage}`}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="rx-heading">
        <h2 id="rx-heading">Recent prescriptions</h2>
        {rx.loading && rx.data === undefined ? <Loading /> : null}
        {rx.error === undefined ? null : <ErrorNote error={rx.error} />}
        {rx.data === undefined ? null : prescriptions.length === 0 ? (
          <Empty>No prescriptions yet.</Empty>
        ) : (
          <RxTable prescriptions={prescriptions} />
        )}
      </section>
    </>
  );
}

export function RxTable(props: { readonly prescriptions: readonly RxSummary[] }): ReactNode {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Medication</th>
          <th scope="col">Status</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {props.prescriptions.map((r) => (
          <tr key={r.id}>
            <td>
              <Link to={`/prescriptions/${r.id}`}>{drugText(r.drugName, r.strength)}</Link>{' '}
              {r.deaSchedule === null ? null : (
                <span className="badge cs">Schedule {r.deaSchedule}</span>
              )}
            </td>
            <td>{statusLabel(r.status)}</td>
            <td>{new Date(r.createdAt).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
