import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { ApiError, api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, ShortId, download, useLoad, when } from '../../components/console.js';
import { Empty, ErrorNote, Loading } from '../../components/status.js';
import { checkInclusion, type InclusionBundle, type ProofCheck } from './merkle.js';

interface AuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly actor: { kind: string; userId: string | null; role: string | null };
  readonly action: string;
  readonly outcome: string;
  readonly subjects: readonly { type: string; id: string }[];
  readonly requestId: string | null;
}
interface Page {
  readonly records: readonly AuditRecord[];
  readonly nextBefore: number | null;
}
interface Alert {
  readonly rule: string;
  readonly status: string;
  readonly lastSeen: string;
}

interface Filters {
  from: string;
  to: string;
  actor: string;
  patient: string;
  action: string;
  outcome: string;
}
const NO_FILTERS: Filters = { from: '', to: '', actor: '', patient: '', action: '', outcome: '' };

/** The query of the audit API (sent to the server only; the app's own URL never changes). */
function query(f: Filters, before: number | undefined): string {
  const q = new URLSearchParams();
  const iso = (v: string): string => new Date(v).toISOString();
  if (f.from !== '') q.set('from', iso(f.from));
  if (f.to !== '') q.set('to', iso(f.to));
  if (f.actor.trim() !== '') q.set('actor', f.actor.trim());
  if (f.patient.trim() !== '') q.set('patient', f.patient.trim());
  if (f.action.trim() !== '') q.set('action', f.action.trim());
  if (f.outcome !== '') q.set('outcome', f.outcome);
  if (before !== undefined) q.set('before', String(before));
  q.set('limit', '50');
  return `${E.auditEvents[1]}?${q.toString()}`;
}

/** Audit search with the log's verification status and per-record inclusion proofs. */
export function AuditSearch(): ReactNode {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const before = pages[pages.length - 1];
  const loaded = useLoad<Page>(query(filters, before));
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => {
    setDraft({ ...draft, [k]: e.target.value });
  };
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    setFilters(draft);
    setPages([undefined]);
  };
  return (
    <section>
      <h1>Audit log</h1>
      <LogStatus />
      <form className="row filters" onSubmit={submit} aria-label="Audit search">
        <label>
          From
          <input type="datetime-local" value={draft.from} onChange={set('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.to} onChange={set('to')} />
        </label>
        <label>
          Actor user id
          <input value={draft.actor} onChange={set('actor')} autoComplete="off" />
        </label>
        <label>
          Patient id
          <input value={draft.patient} onChange={set('patient')} autoComplete="off" />
        </label>
        <label>
          Action
          <input
            value={draft.action}
            onChange={set('action')}
            placeholder="auth.login"
            autoComplete="off"
          />
        </label>
        <label>
          Outcome
          <select value={draft.outcome} onChange={set('outcome')}>
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
            <option value="denied">Denied</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {loaded.error !== undefined ? (
        <ErrorNote error={loaded.error} action="Searching the audit log" />
      ) : loaded.data === undefined || loaded.loading ? (
        <Loading label="Searching the audit log…" />
      ) : loaded.data.records.length === 0 ? (
        <Empty>No audit records match.</Empty>
      ) : (
        <>
          <Records records={loaded.data.records} />
          <nav className="pager" aria-label="Audit pages">
            <button
              type="button"
              className="secondary"
              disabled={pages.length <= 1}
              onClick={() => {
                setPages(pages.slice(0, -1));
              }}
            >
              Newer records
            </button>
            <span>Page {pages.length}</span>
            <button
              type="button"
              className="secondary"
              disabled={loaded.data.nextBefore === null}
              onClick={() => {
                const next = loaded.data?.nextBefore;
                if (next !== null && next !== undefined) setPages([...pages, next]);
              }}
            >
              Older records
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

/** What the log's own verifier reported: an open audit-verification alert, or none. */
function LogStatus(): ReactNode {
  const alerts = useLoad<{ alerts: readonly Alert[] }>(`${E.alerts[1]}?status=open`);
  if (alerts.error !== undefined)
    return <ErrorNote error={alerts.error} action="Loading the log status" />;
  if (alerts.data === undefined) return <Loading label="Loading the log status…" />;
  const failing = alerts.data.alerts.filter((a) => a.rule === 'audit_verification_failure');
  return failing.length === 0 ? (
    <div className="note ok" role="status">
      <p>
        Log verification: <strong>no failure reported</strong>. Each record below can be proved
        against the latest signed checkpoint.
      </p>
    </div>
  ) : (
    <div className="note error" role="status">
      <p>
        Log verification: <strong>the verifier reported a problem</strong> (last{' '}
        {when(failing[0]?.lastSeen)}). See Alerts.
      </p>
    </div>
  );
}

function Records(props: { readonly records: readonly AuditRecord[] }): ReactNode {
  return (
    <table>
      <caption>Audit records, newest first</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Time</th>
          <th scope="col">Action</th>
          <th scope="col">Outcome</th>
          <th scope="col">Actor</th>
          <th scope="col">Subjects</th>
          <th scope="col">Proof</th>
        </tr>
      </thead>
      <tbody>
        {props.records.map((r) => (
          <tr key={r.seq}>
            <td>{r.seq}</td>
            <td>{when(r.time)}</td>
            <td>
              <code>{r.action}</code>
            </td>
            <td>
              <Badge tone={r.outcome === 'success' ? 'ok' : 'error'}>{r.outcome}</Badge>
            </td>
            <td>
              {r.actor.role ?? r.actor.kind} <ShortId id={r.actor.userId} />
            </td>
            <td>
              {r.subjects.length === 0
                ? '—'
                : r.subjects.map((s) => (
                    <span key={`${s.type}:${s.id}`} className="subject">
                      {s.type} <ShortId id={s.id} />
                    </span>
                  ))}
            </td>
            <td>
              <ProofCell seq={r.seq} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ProofCell(props: { readonly seq: number }): ReactNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [check, setCheck] = useState<ProofCheck | undefined>(undefined);
  const fetchProof = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const bundle = await api.get<InclusionBundle>(
        fill(E.auditInclusion[1], { seq: String(props.seq) }),
      );
      setCheck(await checkInclusion(bundle));
      download(`audit-inclusion-proof-${String(props.seq)}.json`, JSON.stringify(bundle, null, 2));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="proof">
      <button
        type="button"
        className="secondary"
        disabled={busy}
        aria-label={`Download inclusion proof for record ${String(props.seq)}`}
        onClick={() => {
          void fetchProof();
        }}
      >
        {busy ? 'Proving…' : 'Proof'}
      </button>
      {check === undefined ? null : check.ok ? (
        <span role="status">
          <Badge tone="ok">Included</Badge> in checkpoint of {check.treeSize} records
        </span>
      ) : (
        <span role="status">
          <Badge tone="error">Not verified</Badge> {check.why}
        </span>
      )}
      {error === undefined ? null : error instanceof ApiError && error.status === 404 ? (
        <p className="note warn" role="status">
          Not in a signed checkpoint yet (one is signed every minute). Try again shortly.
        </p>
      ) : (
        <ErrorNote error={error} action="Proof" />
      )}
    </div>
  );
}
