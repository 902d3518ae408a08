import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, ShortId, useAction, useLoad, when } from '../../components/console.js';
import { useStepUp } from '../../components/StepUp.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface KeyStatus {
  readonly kekVersion: number;
  readonly providerKind: string;
  readonly maxKeyAgeDays: number;
  readonly warnings: readonly string[];
  readonly tenants: readonly {
    tenantId: string;
    keys: readonly {
      purpose: string;
      version: number;
      status: string;
      ageDays: number;
      rows: number;
    }[];
    warnings: readonly string[];
  }[];
}
interface KeyRequest {
  readonly id: string;
  readonly operation: string;
  readonly params: Readonly<Record<string, string | number>>;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
  readonly status: string;
  readonly decidedBy: string | null;
  readonly outcome: string | null;
}

/** Key versions and ages, and dual-control key operations (a second administrator approves). */
export function Keys(): ReactNode {
  const me = useMe();
  const status = useLoad<KeyStatus>(E.keyStatus[1]);
  const requests = useLoad<{ requests: readonly KeyRequest[] }>(E.keyRequests[1]);
  const stepUp = useStepUp();
  const action = useAction();
  const decide = (r: KeyRequest, verb: 'approve' | 'reject'): void => {
    const path = fill(verb === 'approve' ? E.keyApprove[1] : E.keyReject[1], { id: r.id });
    void action.run(async () => {
      await stepUp.run(() => api.post(path));
      requests.reload();
      status.reload();
    });
  };
  return (
    <section>
      <h1>Keys</h1>
      <LoadState loaded={status} what="key status">
        {(s) => (
          <>
            <p>
              Key encryption key version <strong>{s.kekVersion}</strong> ({s.providerKind}); keys
              older than {s.maxKeyAgeDays} days are due for rotation.
            </p>
            {[...s.warnings, ...s.tenants.flatMap((t) => t.warnings)].map((w) => (
              <p key={w} className="note warn">
                {w}
              </p>
            ))}
            <table>
              <caption>Data keys</caption>
              <thead>
                <tr>
                  <th scope="col">Organisation</th>
                  <th scope="col">Purpose</th>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Age (days)</th>
                  <th scope="col">Rows</th>
                </tr>
              </thead>
              <tbody>
                {s.tenants.flatMap((t) =>
                  t.keys.map((k) => (
                    <tr key={`${t.tenantId}:${k.purpose}:${String(k.version)}`}>
                      <td>
                        <ShortId id={t.tenantId} />
                      </td>
                      <td>{k.purpose}</td>
                      <td>{k.version}</td>
                      <td>{k.status}</td>
                      <td>
                        {k.ageDays > s.maxKeyAgeDays ? (
                          <Badge tone="warn">{k.ageDays}</Badge>
                        ) : (
                          k.ageDays
                        )}
                      </td>
                      <td>{k.rows}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </>
        )}
      </LoadState>
      <h2>Dual-control requests</h2>
      <NewKeyRequest onDone={requests.reload} />
      {action.error === undefined ? null : <ErrorNote error={action.error} action="Key request" />}
      <LoadState loaded={requests} what="key requests">
        {(d) =>
          d.requests.length === 0 ? (
            <Empty>No key requests.</Empty>
          ) : (
            <table>
              <caption>Key operation requests</caption>
              <thead>
                <tr>
                  <th scope="col">Operation</th>
                  <th scope="col">Parameters</th>
                  <th scope="col">Requested</th>
                  <th scope="col">Status</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {d.requests.map((r) => (
                  <tr key={r.id}>
                    <td>{r.operation.replace(/_/g, ' ')}</td>
                    <td>
                      {Object.entries(r.params)
                        .map(([k, v]) => `${k}=${String(v)}`)
                        .join(', ') || '—'}
                    </td>
                    <td>
                      {when(r.requestedAt)} by <ShortId id={r.requestedBy} />
                    </td>
                    <td>
                      {r.status}
                      {r.outcome === null ? null : <span className="muted"> ({r.outcome})</span>}
                    </td>
                    <td className="actions">
                      {r.status !== 'pending' ? (
                        '—'
                      ) : r.requestedBy === me.userId ? (
                        <span className="muted">awaiting a second administrator</span>
                      ) : (
                        <>
                          <button
                            type="button"
                            disabled={action.busy}
                            onClick={() => {
                              decide(r, 'approve');
                            }}
                          >
                            Approve
                          </button>
                          <button
                            type="button"
                            className="secondary"
                            disabled={action.busy}
                            onClick={() => {
                              decide(r, 'reject');
                            }}
                          >
                            Reject
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
      {stepUp.dialog}
    </section>
  );
}

function NewKeyRequest(props: { readonly onDone: () => void }): ReactNode {
  const [operation, setOperation] = useState('rotate_kek');
  const [version, setVersion] = useState('');
  const [tenantId, setTenantId] = useState('');
  const stepUp = useStepUp();
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const body: Record<string, unknown> = { operation };
    if (operation === 'destroy_kek_version') body.version = Number(version);
    if (operation === 'shred_tenant') body.tenantId = tenantId.trim();
    void action.run(async () => {
      await stepUp.run(() => api.post(E.keyRequest[1], body));
      props.onDone();
    });
  };
  return (
    <>
      <form className="row" onSubmit={submit} aria-label="Request a key operation">
        <label>
          Operation
          <select
            value={operation}
            onChange={(e) => {
              setOperation(e.target.value);
            }}
          >
            <option value="rotate_kek">Rotate the key encryption key</option>
            <option value="destroy_kek_version">Destroy a retired KEK version</option>
            <option value="shred_tenant">Crypto-shred an organisation</option>
          </select>
        </label>
        {operation === 'destroy_kek_version' ? (
          <label>
            KEK version
            <input
              type="number"
              min={1}
              required
              value={version}
              onChange={(e) => {
                setVersion(e.target.value);
              }}
            />
          </label>
        ) : null}
        {operation === 'shred_tenant' ? (
          <label>
            Organisation id
            <input
              required
              autoComplete="off"
              value={tenantId}
              onChange={(e) => {
                setTenantId(e.target.value);
              }}
            />
          </label>
        ) : null}
        <button type="submit" disabled={action.busy}>
          Request (a second administrator approves)
        </button>
        {action.error === undefined ? null : <ErrorNote error={action.error} action="Requesting" />}
      </form>
      {stepUp.dialog}
    </>
  );
}
