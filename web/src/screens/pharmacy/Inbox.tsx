import { useState, type ReactNode } from 'react';
import { PHARMACY_ENDPOINTS as E } from '../../api/pharmacy-endpoints.js';
import { LoadState, useLoad, when } from '../../components/console.js';
import { Empty } from '../../components/status.js';
import { Link } from '../../router.js';
import { CancelBadge, SignatureBadge, StatusBadge, day, schedule, unit } from './format.js';
import type { InboxSummary } from './types.js';

const PAGE = 20;

const FILTERS: readonly (readonly [string, string])[] = [
  ['', 'All'],
  ['received', 'Received (to accept)'],
  ['accepted', 'Accepted (to dispense)'],
  ['partially_dispensed', 'Partially dispensed'],
  ['dispensed', 'Dispensed'],
  ['cancelled', 'Cancelled'],
];

/**
 * The pharmacy's inbox: prescriptions received over the network for the pharmacies the user is
 * staff of, newest first, 20 a page. Summaries only (the server sends no sig, note or address in
 * a list); opening one shows the dispensing view with the signature verification.
 */
export function PharmacyInbox(): ReactNode {
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(0);
  const query = `limit=${String(PAGE)}&offset=${String(page * PAGE)}${status === '' ? '' : `&status=${status}`}`;
  const loaded = useLoad<{ items: readonly InboxSummary[] }>(`${E.inbox[1]}?${query}`);
  return (
    <section>
      <h1>Prescription inbox</h1>
      <div className="filters">
        <label className="inline-field">
          Show
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setPage(0);
            }}
          >
            {FILTERS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary" onClick={loaded.reload}>
          Refresh
        </button>
      </div>
      <LoadState loaded={loaded} what="the inbox">
        {(d) => (
          <>
            {d.items.length === 0 ? (
              <Empty>
                {page === 0
                  ? 'No prescriptions here. New ones appear when prescribers send them.'
                  : 'No more prescriptions.'}
              </Empty>
            ) : (
              <table>
                <caption>Received prescriptions, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Received</th>
                    <th scope="col">Drug</th>
                    <th scope="col">Patient</th>
                    <th scope="col">Status</th>
                    <th scope="col">Cancel requested</th>
                    <th scope="col">Signature</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((p) => (
                    <InboxRow key={p.id} p={p} />
                  ))}
                </tbody>
              </table>
            )}
            <nav className="pager" aria-label="Inbox pages">
              <button
                type="button"
                className="secondary"
                disabled={page === 0}
                onClick={() => {
                  setPage(page - 1);
                }}
              >
                Newer
              </button>
              <span>Page {page + 1}</span>
              <button
                type="button"
                className="secondary"
                disabled={d.items.length < PAGE}
                onClick={() => {
                  setPage(page + 1);
                }}
              >
                Older
              </button>
            </nav>
          </>
        )}
      </LoadState>
    </section>
  );
}

function InboxRow(props: { readonly p: InboxSummary }): ReactNode {
  const { p } = props;
  const drug = p.drug === null ? 'Unreadable prescription' : p.drug.description;
  return (
    <tr>
      <td>{when(p.receivedAt)}</td>
      <td>
        <Link to={`/pharmacy/inbox/${p.id}`}>{drug}</Link>
        {p.drug === null ? null : (
          <span className="muted">
            {' '}
            · {p.drug.quantity} {unit(p.drug.unitCode)}
          </span>
        )}
        {schedule(p.deaSchedule) === undefined ? null : (
          <span className="muted"> · Schedule {schedule(p.deaSchedule)}</span>
        )}
      </td>
      <td>
        {p.patient === null ? (
          '—'
        ) : (
          <>
            {p.patient.lastName}, {p.patient.firstName}
            <span className="muted"> · born {day(p.patient.birthDate)}</span>
          </>
        )}
      </td>
      <td>
        <StatusBadge status={p.status} />
      </td>
      <td>
        <CancelBadge cancelStatus={p.cancelStatus} />
      </td>
      <td>
        <SignatureBadge status={p.signatureStatus} />
      </td>
    </tr>
  );
}
