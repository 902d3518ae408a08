import { useState, type ReactNode } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import {
  Badge,
  LoadState,
  ShortId,
  can,
  useAction,
  useLoad,
  when,
} from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface Alert {
  readonly id: string;
  readonly rule: string;
  readonly severity: string;
  readonly subject: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly count: number;
  readonly status: string;
  readonly acknowledgedBy: string | null;
  readonly acknowledgedAt: string | null;
  readonly note: string | null;
}

const TONE: Record<string, 'error' | 'warn' | 'neutral'> = {
  critical: 'error',
  high: 'error',
  medium: 'warn',
};

/** Alerts of the tenant; people with alerts.manage acknowledge and close them. */
export function Alerts(): ReactNode {
  const me = useMe();
  const [status, setStatus] = useState('open');
  const loaded = useLoad<{ alerts: readonly Alert[] }>(
    status === '' ? E.alerts[1] : `${E.alerts[1]}?status=${status}`,
  );
  const manage = can(me, 'alerts.manage');
  const action = useAction();
  const act = (verb: 'acknowledge' | 'close', a: Alert): void => {
    const path = fill(verb === 'acknowledge' ? E.alertAcknowledge[1] : E.alertClose[1], {
      id: a.id,
    });
    void action.run(async () => {
      await api.post(path, {});
      loaded.reload();
    });
  };
  return (
    <section>
      <h1>Alerts</h1>
      <label className="inline-field">
        Show
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
          }}
        >
          <option value="open">Open</option>
          <option value="acknowledged">Acknowledged</option>
          <option value="closed">Closed</option>
          <option value="">All</option>
        </select>
      </label>
      {action.error === undefined ? null : <ErrorNote error={action.error} action="Alert" />}
      <LoadState loaded={loaded} what="alerts">
        {(d) =>
          d.alerts.length === 0 ? (
            <Empty>No alerts here.</Empty>
          ) : (
            <table>
              <caption>Alerts</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Seen</th>
                  <th scope="col">Count</th>
                  <th scope="col">Status</th>
                  {manage ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {d.alerts.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <code>{a.rule}</code>
                    </td>
                    <td>
                      <Badge tone={TONE[a.severity] ?? 'neutral'}>{a.severity}</Badge>
                    </td>
                    <td>
                      <ShortId id={a.subject} />
                    </td>
                    <td>
                      {when(a.firstSeen)}
                      {a.lastSeen === a.firstSeen ? null : <> – {when(a.lastSeen)}</>}
                    </td>
                    <td>{a.count}</td>
                    <td>
                      {a.status}
                      {a.acknowledgedAt === null ? null : (
                        <span className="muted"> ({when(a.acknowledgedAt)})</span>
                      )}
                    </td>
                    {manage ? (
                      <td className="actions">
                        {a.status === 'open' ? (
                          <button
                            type="button"
                            disabled={action.busy}
                            aria-label={`Acknowledge ${a.rule} alert`}
                            onClick={() => {
                              act('acknowledge', a);
                            }}
                          >
                            Acknowledge
                          </button>
                        ) : null}
                        {a.status !== 'closed' ? (
                          <button
                            type="button"
                            className="secondary"
                            disabled={action.busy}
                            aria-label={`Close ${a.rule} alert`}
                            onClick={() => {
                              act('close', a);
                            }}
                          >
                            Close
                          </button>
                        ) : null}
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
