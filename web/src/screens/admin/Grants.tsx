import { useState, type ReactNode } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { LoadState, ShortId, useAction, useLoad, when } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface Grant {
  readonly id: string;
  readonly userId: string;
  readonly patientId: string | null;
  readonly permissions: readonly string[];
  readonly reason: string;
  readonly durationMinutes: number;
  readonly state: string;
  readonly requestedAt: string;
  readonly expiresAt: string | null;
}

/** Just-in-time access grants: approve or deny requests (never your own), revoke active ones. */
export function Grants(): ReactNode {
  const me = useMe();
  const [state, setState] = useState('requested');
  const loaded = useLoad<{ grants: readonly Grant[] }>(`${E.grants[1]}?state=${state}`);
  const action = useAction();
  const act = (g: Grant, verb: 'approve' | 'deny' | 'revoke'): void => {
    const path = { approve: E.grantApprove, deny: E.grantDeny, revoke: E.grantRevoke }[verb][1];
    void action.run(async () => {
      await api.post(fill(path, { id: g.id }));
      loaded.reload();
    });
  };
  return (
    <section>
      <h1>Access grants</h1>
      <label className="inline-field">
        Show
        <select
          value={state}
          onChange={(e) => {
            setState(e.target.value);
          }}
        >
          <option value="requested">Requested</option>
          <option value="active">Active</option>
          <option value="expired">Expired</option>
          <option value="denied">Denied</option>
          <option value="revoked">Revoked</option>
          <option value="withdrawn">Withdrawn</option>
        </select>
      </label>
      {action.error === undefined ? null : <ErrorNote error={action.error} action="Grant" />}
      <LoadState loaded={loaded} what="grants">
        {(d) =>
          d.grants.length === 0 ? (
            <Empty>No {state} grants.</Empty>
          ) : (
            <table>
              <caption>Just-in-time grants</caption>
              <thead>
                <tr>
                  <th scope="col">Requested by</th>
                  <th scope="col">Permissions</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Length</th>
                  <th scope="col">Requested</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {d.grants.map((g) => (
                  <tr key={g.id}>
                    <td>
                      <ShortId id={g.userId} />
                    </td>
                    <td>{g.permissions.join(', ')}</td>
                    <td>{g.patientId === null ? 'all patients' : <>one patient</>}</td>
                    <td>{g.reason}</td>
                    <td>{g.durationMinutes} min</td>
                    <td>{when(g.requestedAt)}</td>
                    <td className="actions">
                      {g.userId === me.userId ? (
                        <span className="muted">your own</span>
                      ) : g.state === 'requested' ? (
                        <>
                          <button
                            type="button"
                            disabled={action.busy}
                            onClick={() => {
                              act(g, 'approve');
                            }}
                          >
                            Approve
                          </button>
                          <button
                            type="button"
                            className="secondary"
                            disabled={action.busy}
                            onClick={() => {
                              act(g, 'deny');
                            }}
                          >
                            Deny
                          </button>
                        </>
                      ) : g.state === 'active' ? (
                        <button
                          type="button"
                          className="danger"
                          disabled={action.busy}
                          onClick={() => {
                            act(g, 'revoke');
                          }}
                        >
                          Revoke
                        </button>
                      ) : (
                        '—'
                      )}
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
