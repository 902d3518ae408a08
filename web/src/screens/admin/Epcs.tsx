import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, ShortId, useAction, useLoad, when } from '../../components/console.js';
import { useStepUp } from '../../components/StepUp.js';
import { Empty, ErrorNote } from '../../components/status.js';

interface PermissionRequest {
  readonly id: string;
  readonly prescriberId: string;
  readonly change: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
  readonly status: string;
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
}
interface User {
  readonly id: string;
  readonly displayName: string;
  readonly roles: readonly string[];
}

/**
 * The two-person EPCS permission flow (21 CFR 1311.125): an administrator enters a grant or
 * revocation; a second person, a DEA registrant, approves it with a step-up on their EPCS
 * approvals screen.
 */
export function EpcsPermissions(): ReactNode {
  const requests = useLoad<{ requests: readonly PermissionRequest[] }>(E.epcsRequests[1]);
  const users = useLoad<{ users: readonly User[] }>(E.users[1]);
  const prescribers = (users.data?.users ?? []).filter((u) => u.roles.includes('prescriber'));
  const name = (id: string): ReactNode =>
    users.data?.users.find((u) => u.id === id)?.displayName ?? <ShortId id={id} />;
  return (
    <section>
      <h1>EPCS permissions</h1>
      <p>
        Granting or revoking the right to sign controlled-substance prescriptions takes two people:
        you enter the change here, and a second person who is a DEA registrant approves it (on their{' '}
        <em>EPCS approvals</em> screen, with the request id below) within its time limit.
      </p>
      <RequestForm prescribers={prescribers} onDone={requests.reload} />
      <LoadState loaded={requests} what="EPCS permission requests">
        {(d) =>
          d.requests.length === 0 ? (
            <Empty>No EPCS permission requests.</Empty>
          ) : (
            <table>
              <caption>EPCS permission requests</caption>
              <thead>
                <tr>
                  <th scope="col">Request id</th>
                  <th scope="col">Prescriber</th>
                  <th scope="col">Change</th>
                  <th scope="col">Requested</th>
                  <th scope="col">Status</th>
                  <th scope="col">Approved by</th>
                </tr>
              </thead>
              <tbody>
                {d.requests.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <code className="secret">{r.id}</code>
                    </td>
                    <td>{name(r.prescriberId)}</td>
                    <td>{r.change}</td>
                    <td>
                      {when(r.requestedAt)} by {name(r.requestedBy)}
                    </td>
                    <td>
                      <Badge tone={r.status === 'approved' ? 'ok' : 'warn'}>{r.status}</Badge>
                      {r.status === 'pending' ? (
                        <span className="muted"> until {when(r.expiresAt)}</span>
                      ) : null}
                    </td>
                    <td>
                      {r.approvedBy === null ? '—' : name(r.approvedBy)}
                      {r.approvedAt === null ? null : ` (${when(r.approvedAt)})`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
    </section>
  );
}

function RequestForm(props: {
  readonly prescribers: readonly User[];
  readonly onDone: () => void;
}): ReactNode {
  const [prescriberId, setPrescriber] = useState('');
  const [change, setChange] = useState<'grant' | 'revoke'>('grant');
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(E.epcsRequest[1], { prescriberId, change });
      props.onDone();
    });
  };
  return (
    <form className="row" onSubmit={submit} aria-label="Request an EPCS permission change">
      <label>
        Prescriber
        <select
          required
          value={prescriberId}
          onChange={(e) => {
            setPrescriber(e.target.value);
          }}
        >
          <option value="">Choose a prescriber</option>
          {props.prescribers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.displayName}
            </option>
          ))}
        </select>
      </label>
      <label>
        Change
        <select
          value={change}
          onChange={(e) => {
            setChange(e.target.value === 'revoke' ? 'revoke' : 'grant');
          }}
        >
          <option value="grant">Grant</option>
          <option value="revoke">Revoke</option>
        </select>
      </label>
      <button type="submit" disabled={action.busy || prescriberId === ''}>
        Request change
      </button>
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Requesting the change" />
      )}
    </form>
  );
}

/** The second person's side: approve a request by its id, with a step-up. */
export function EpcsApprove(): ReactNode {
  const [id, setId] = useState('');
  const [done, setDone] = useState<PermissionRequest | undefined>(undefined);
  const stepUp = useStepUp();
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    setDone(undefined);
    void action.run(async () => {
      const path = fill(E.epcsApprove[1], { id: id.trim() });
      setDone(await stepUp.run(() => api.post<PermissionRequest>(path)));
      setId('');
    });
  };
  return (
    <section>
      <h1>EPCS approvals</h1>
      <p>
        As the second person of an EPCS permission change, enter the request id the administrator
        gave you. You must be a DEA registrant, not the requester, and confirm with a second factor.
      </p>
      <form className="row" onSubmit={submit} aria-label="Approve an EPCS permission change">
        <label>
          Request id
          <input
            required
            autoComplete="off"
            pattern="[0-9a-fA-F-]{36}"
            value={id}
            onChange={(e) => {
              setId(e.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Approve
        </button>
      </form>
      {action.error === undefined ? null : <ErrorNote error={action.error} action="Approving" />}
      {done === undefined ? null : (
        <p className="note ok" role="status">
          Approved: {done.change} of EPCS signing, status {done.status}.
        </p>
      )}
      {stepUp.dialog}
    </section>
  );
}
