import { useEffect, useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, can, useAction, useLoad, when } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface Incident {
  readonly id: string;
  readonly category: string;
  readonly createdAt: string;
  readonly current: { title: string; severity: string; status: string; discoveredAt: string };
  readonly checklist: { total: number; done: number };
}
interface Deadline {
  readonly recipient: string;
  readonly jurisdiction: string | null;
  readonly dueOn: string;
  readonly citation: string;
  readonly daysLeft: number;
  readonly state: string;
  readonly sentOn: string | null;
}
interface Breach {
  readonly assessment: { decision: string; affectedTotal: number } | null;
  readonly deadlines: readonly Deadline[];
  readonly missingNoticeElements: readonly string[];
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
                  <BreachClock id={i.id} />
                </li>
              ))}
            </ul>
          )
        }
      </LoadState>
    </section>
  );
}

/** Milliseconds until the end of a due day (UTC); negative once passed. */
function msLeft(dueOn: string, now: number): number {
  return Date.parse(`${dueOn}T23:59:59.999Z`) - now;
}

function countdown(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${String(d)}d ${pad(h)}:${pad(m)}:${pad(sec)}`;
}

function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => {
      setNow(Date.now());
    }, 1000);
    return () => {
      clearInterval(t);
    };
  }, []);
  return now;
}

function BreachClock(props: { readonly id: string }): ReactNode {
  const loaded = useLoad<Breach>(fill(E.incidentBreach[1], { id: props.id }));
  const now = useNow();
  return (
    <LoadState loaded={loaded} what="the breach clock">
      {(b) =>
        b.deadlines.length === 0 ? (
          <p className="note empty">
            {b.assessment === null
              ? 'No breach assessment yet: no notification deadlines.'
              : `Assessed: ${b.assessment.decision.replace(/_/g, ' ')}; no notification deadlines.`}
          </p>
        ) : (
          <table className="breach-clock">
            <caption>Breach notification deadlines</caption>
            <thead>
              <tr>
                <th scope="col">Notify</th>
                <th scope="col">Due by (end of day, UTC)</th>
                <th scope="col">Time left</th>
                <th scope="col">State</th>
                <th scope="col">Citation</th>
              </tr>
            </thead>
            <tbody>
              {b.deadlines.map((d) => {
                const ms = msLeft(d.dueOn, now);
                const done = d.state === 'met' || d.state === 'met_late';
                return (
                  <tr key={`${d.recipient}:${d.jurisdiction ?? ''}`}>
                    <td>
                      {d.recipient}
                      {d.jurisdiction === null ? null : ` (${d.jurisdiction})`}
                    </td>
                    <td>{d.dueOn}</td>
                    <td>
                      {done ? (
                        `sent ${d.sentOn ?? ''}`
                      ) : (
                        <span className={ms < 0 ? 'overdue' : undefined}>
                          {ms < 0 ? 'overdue by ' : ''}
                          <time>{countdown(ms)}</time>
                        </span>
                      )}
                    </td>
                    <td>
                      <Badge
                        tone={d.state === 'met' ? 'ok' : d.state === 'pending' ? 'warn' : 'error'}
                      >
                        {d.state.replace(/_/g, ' ')}
                      </Badge>
                    </td>
                    <td>{d.citation}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      }
    </LoadState>
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
