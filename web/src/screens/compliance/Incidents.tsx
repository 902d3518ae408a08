import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, can, useAction, useLoad, when } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';
import { IncidentBreach } from './IncidentBreach.js';

interface Incident {
  readonly id: string;
  readonly category: string;
  readonly createdAt: string;
  readonly current: { title: string; severity: string; status: string; discoveredAt: string };
  readonly checklist: { total: number; done: number };
}
const CATEGORIES = [
  'credential_theft',
  'misdirected_prescription',
  'compromised_endpoint',
  'vendor_breach',
  'lost_device',
  'other',
] as const;
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/** Incidents with each one's breach clock (deadlines computed by the server, counted down live). */
export function Incidents(): ReactNode {
  const me = useMe();
  const loaded = useLoad<{ incidents: readonly Incident[] }>(E.incidents[1]);
  return (
    <section>
      <h1>Incidents</h1>
      {can(me, 'compliance.manage') ? <NewIncident onDone={loaded.reload} /> : null}
      <LoadState loaded={loaded} what="incidents">
        {(d) =>
          d.incidents.length === 0 ? (
            <Empty>No incidents recorded.</Empty>
          ) : (
            <ul className="cards">
              {d.incidents.map((i) => (
                <li key={i.id} className="card">
                  <h2>{i.current.title}</h2>
                  <p>
                    <Badge tone={i.current.severity === 'low' ? 'neutral' : 'warn'}>
                      {i.current.severity}
                    </Badge>{' '}
                    {i.category.replace(/_/g, ' ')} · {i.current.status} · discovered{' '}
                    {when(i.current.discoveredAt)} · checklist {i.checklist.done}/
                    {i.checklist.total}
                  </p>
                  <IncidentBreach id={i.id} />
                </li>
              ))}
            </ul>
          )
        }
      </LoadState>
    </section>
  );
}

function NewIncident(props: { readonly onDone: () => void }): ReactNode {
  const [title, setTitle] = useState('');
  const [summary, setSummary] = useState('');
  const [category, setCategory] = useState<string>('other');
  const [severity, setSeverity] = useState<string>('medium');
  const [discovered, setDiscovered] = useState('');
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(E.incidentCreate[1], {
        title: title.trim(),
        summary: summary.trim(),
        category,
        severity,
        discoveredAt: (discovered === '' ? new Date() : new Date(discovered)).toISOString(),
      });
      setTitle('');
      setSummary('');
      props.onDone();
    });
  };
  return (
    <details className="panel">
      <summary>Record an incident</summary>
      <form onSubmit={submit}>
        <label>
          Title
          <input
            required
            maxLength={200}
            value={title}
            onChange={(e) => {
              setTitle(e.target.value);
            }}
          />
        </label>
        <label>
          Category
          <select
            value={category}
            onChange={(e) => {
              setCategory(e.target.value);
            }}
          >
            {CATEGORIES.map((c) => (
              <option key={c} value={c}>
                {c.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select
            value={severity}
            onChange={(e) => {
              setSeverity(e.target.value);
            }}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Discovered at
          <input
            type="datetime-local"
            value={discovered}
            onChange={(e) => {
              setDiscovered(e.target.value);
            }}
          />
        </label>
        <label>
          Summary (no patient details)
          <textarea
            maxLength={4000}
            value={summary}
            onChange={(e) => {
              setSummary(e.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Record incident
        </button>
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Recording the incident" />
        )}
      </form>
    </details>
  );
}
