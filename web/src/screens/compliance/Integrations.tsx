import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import {
  Badge,
  LoadState,
  can,
  serverReason,
  useAction,
  useLoad,
} from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface Integration {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly ref: string;
  readonly vendorId: string | null;
  readonly sendsPhi: boolean;
  readonly status: string;
  readonly statusReason: string | null;
}
interface Vendor {
  readonly id: string;
  readonly name: string;
}

const KINDS = ['pharmacy_network', 'identity_provider', 'alert_webhook', 'export_target', 'siem'];

/** The server's refusal `no_active_baa: …` in words (the code, then its explanation). */
function refusalText(detail: string): string {
  const i = detail.indexOf(':');
  return i < 0 ? detail : detail.slice(i + 1).trim();
}

/** Integrations and their BAA gate: enabling one that sends PHI needs an active BAA. */
export function Integrations(): ReactNode {
  const me = useMe();
  const manage = can(me, 'compliance.manage');
  const loaded = useLoad<{ integrations: readonly Integration[] }>(E.integrations[1]);
  const vendors = useLoad<{ vendors: readonly Vendor[] }>(E.vendors[1]);
  const [refused, setRefused] = useState<{ id: string; reason: string } | undefined>(undefined);
  const action = useAction();
  const vendorName = (id: string | null): string =>
    id === null ? '—' : (vendors.data?.vendors.find((v) => v.id === id)?.name ?? id.slice(0, 8));
  const change = (i: Integration, verb: 'enable' | 'disable'): void => {
    setRefused(undefined);
    void action.run(async () => {
      try {
        const path = verb === 'enable' ? E.integrationEnable[1] : E.integrationDisable[1];
        await api.post(fill(path, { id: i.id }), {});
        loaded.reload();
      } catch (err) {
        const reason = serverReason(err);
        if (reason === undefined) throw err;
        setRefused({ id: i.id, reason });
      }
    });
  };
  return (
    <section>
      <h1>Integrations</h1>
      <p>
        An integration that sends PHI to a vendor can only be enabled while the vendor has an active
        business associate agreement.
      </p>
      {manage ? (
        <NewIntegration vendors={vendors.data?.vendors ?? []} onDone={loaded.reload} />
      ) : null}
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Changing the integration" />
      )}
      <LoadState loaded={loaded} what="integrations">
        {(d) =>
          d.integrations.length === 0 ? (
            <Empty>No integrations registered.</Empty>
          ) : (
            <table>
              <caption>Integrations</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Vendor</th>
                  <th scope="col">Sends PHI</th>
                  <th scope="col">Status</th>
                  {manage ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {d.integrations.map((i) => (
                  <tr key={i.id}>
                    <td>{i.name}</td>
                    <td>{i.kind.replace(/_/g, ' ')}</td>
                    <td>{vendorName(i.vendorId)}</td>
                    <td>{i.sendsPhi ? 'yes' : 'no'}</td>
                    <td>
                      <Badge tone={i.status === 'enabled' ? 'ok' : 'warn'}>{i.status}</Badge>
                      {i.statusReason === null ? null : (
                        <div className="muted">{i.statusReason}</div>
                      )}
                      {refused?.id === i.id ? (
                        <div className="note error" role="alert">
                          <p>
                            Refused: <strong>{refusalText(refused.reason)}</strong>
                          </p>
                          <p className="muted">
                            <code>{refused.reason.split(':')[0]}</code>
                          </p>
                        </div>
                      ) : null}
                    </td>
                    {manage ? (
                      <td className="actions">
                        {i.status === 'enabled' ? (
                          <button
                            type="button"
                            className="secondary"
                            disabled={action.busy}
                            aria-label={`Disable ${i.name}`}
                            onClick={() => {
                              change(i, 'disable');
                            }}
                          >
                            Disable
                          </button>
                        ) : i.status === 'retired' ? null : (
                          <button
                            type="button"
                            disabled={action.busy}
                            aria-label={`Enable ${i.name}`}
                            onClick={() => {
                              change(i, 'enable');
                            }}
                          >
                            Enable
                          </button>
                        )}
                      </td>
                    ) : null}
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

function NewIntegration(props: {
  readonly vendors: readonly Vendor[];
  readonly onDone: () => void;
}): ReactNode {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('alert_webhook');
  const [ref, setRef] = useState('');
  const [vendorId, setVendorId] = useState('');
  const [sendsPhi, setSendsPhi] = useState(true);
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(E.integrationCreate[1], {
        kind,
        name: name.trim(),
        ref: ref.trim(),
        vendorId: vendorId === '' ? null : vendorId,
        sendsPhi,
      });
      setName('');
      setRef('');
      props.onDone();
    });
  };
  return (
    <details className="panel">
      <summary>Register an integration</summary>
      <form onSubmit={submit}>
        <label>
          Integration name
          <input
            required
            maxLength={200}
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
        <label>
          Kind
          <select
            value={kind}
            onChange={(e) => {
              setKind(e.target.value);
            }}
          >
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Reference (URL or endpoint id)
          <input
            required
            maxLength={500}
            value={ref}
            onChange={(e) => {
              setRef(e.target.value);
            }}
          />
        </label>
        <label>
          Vendor
          <select
            value={vendorId}
            onChange={(e) => {
              setVendorId(e.target.value);
            }}
          >
            <option value="">None</option>
            {props.vendors.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={sendsPhi}
            onChange={(e) => {
              setSendsPhi(e.target.checked);
            }}
          />
          Sends PHI
        </label>
        <button type="submit" disabled={action.busy}>
          Register integration
        </button>
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Registering the integration" />
        )}
      </form>
    </details>
  );
}
