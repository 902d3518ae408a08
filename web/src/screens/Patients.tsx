import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { PatientSearchBody, PatientSummary } from '../api/types.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';

type Mode = 'name' | 'mrn' | 'phone';

export function patientName(p: PatientSummary): string {
  if (p.shredded) return 'Record destroyed';
  return [p.givenName, p.familyName].filter((x) => x !== undefined).join(' ') || 'Unnamed';
}

/**
 * Patient search: last name + date of birth, MRN, or phone. The terms go in the POST body and
 * stay in this component's state: never in the URL, the title or browser storage.
 */
export function Patients(): ReactNode {
  const [mode, setMode] = useState<Mode>('name');
  const [familyName, setFamilyName] = useState('');
  const [birthDate, setBirthDate] = useState('');
  const [mrn, setMrn] = useState('');
  const [phone, setPhone] = useState('');
  const [results, setResults] = useState<PatientSummary[] | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const mine = useLoad(
    (signal) =>
      api.get<{ patients: PatientSummary[] }>(`${ENDPOINTS.myPatients[1]}?limit=50`, { signal }),
    [],
  );

  const search = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    const body: PatientSearchBody =
      mode === 'name'
        ? { familyName: familyName.trim(), birthDate }
        : mode === 'mrn'
          ? { mrn: mrn.trim() }
          : { phone: phone.trim() };
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.post<{ patients: PatientSummary[] }>(ENDPOINTS.patientSearch[1], body);
      setResults(r.patients);
    } catch (err) {
      setError(err);
      setResults(undefined);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Patients</h1>
      <form
        className="row"
        role="search"
        aria-label="Find a patient"
        onSubmit={(e) => {
          void search(e);
        }}
      >
        <label>
          Search by
          <select
            value={mode}
            onChange={(e) => {
              setMode(e.target.value as Mode);
              setResults(undefined);
            }}
          >
            <option value="name">Last name and date of birth</option>
            <option value="mrn">MRN</option>
            <option value="phone">Phone</option>
          </select>
        </label>
        {mode === 'name' ? (
          <>
            <label>
              Last name
              <input
                required
                autoComplete="off"
                value={familyName}
                onChange={(e) => {
                  setFamilyName(e.target.value);
                }}
              />
            </label>
            <label>
              Date of birth
              <input
                type="date"
                required
                value={birthDate}
                onChange={(e) => {
                  setBirthDate(e.target.value);
                }}
              />
            </label>
          </>
        ) : mode === 'mrn' ? (
          <label>
            MRN
            <input
              required
              autoComplete="off"
              value={mrn}
              onChange={(e) => {
                setMrn(e.target.value);
              }}
            />
          </label>
        ) : (
          <label>
            Phone
            <input
              type="tel"
              required
              autoComplete="off"
              value={phone}
              onChange={(e) => {
                setPhone(e.target.value);
              }}
            />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      {error === undefined ? null : <ErrorNote error={error} action="Search failed" />}
      {results === undefined ? null : (
        <>
          <h2>Results</h2>
          {results.length === 0 ? (
            <Empty>No patient matches. Check the spelling and the date of birth.</Empty>
          ) : (
            <PatientTable patients={results} caption="Search results" />
          )}
        </>
      )}
      <h2>My patients</h2>
      {mine.loading ? <Loading /> : null}
      {mine.error === undefined ? null : <ErrorNote error={mine.error} />}
      {mine.data === undefined ? null : mine.data.patients.length === 0 ? (
        <Empty>You are on no patient’s care team yet.</Empty>
      ) : (
        <PatientTable patients={mine.data.patients} caption="Patients whose care team you are on" />
      )}
    </section>
  );
}

function PatientTable(props: {
  readonly patients: readonly PatientSummary[];
  readonly caption: string;
}): ReactNode {
  return (
    <table>
      <caption className="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Date of birth</th>
          <th scope="col">MRN</th>
        </tr>
      </thead>
      <tbody>
        {props.patients.map((p) => (
          <tr key={p.id}>
            <td>
              <Link to={`/patients/${p.id}`}>{patientName(p)}</Link>
            </td>
            <td>{p.birthDate ?? ''}</td>
            <td>{p.mrn ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
