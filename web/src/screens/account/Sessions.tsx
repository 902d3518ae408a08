import { useState, type ReactNode } from 'react';
import { api, ApiError, fill } from '../../api/client.js';
import { ENDPOINTS } from '../../api/endpoints.js';
import type { OwnSession } from '../../api/types.js';
import { Empty, ErrorNote, Loading } from '../../components/status.js';
import { useLoad } from '../../components/useLoad.js';
import { useSession } from '../../session.js';
import { deviceLabel } from './device-label.js';

/**
 * The account screen's signed-in sessions (issue 10 item 2): each of my live sessions in this
 * tenant with its device, address and times; sign one out, or every one everywhere.
 */
export function Sessions(): ReactNode {
  const { signOut, lost } = useSession();
  const sessions = useLoad(
    (signal) => api.get<{ sessions: OwnSession[] }>(ENDPOINTS.mySessions[1], { signal }),
    [],
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);

  const end = async (s: OwnSession): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await api.del(fill(ENDPOINTS.mySessionEnd[1], { id: s.id }));
      if (s.current) {
        // The server ended this session and cleared its cookies: back to the sign-in page.
        lost();
        return;
      }
      setDone(`Signed out ${deviceLabel(s.userAgent)}.`);
      sessions.reload();
    } catch (err) {
      setError(err);
      // Ended elsewhere in the meantime: show the list as it is now.
      if (err instanceof ApiError && err.code === 'not_found') sessions.reload();
    } finally {
      setBusy(false);
    }
  };

  const list = sessions.data?.sessions;
  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Signed-in sessions</h2>
      <p>
        Where you are signed in to this organisation. Sign out any session you do not recognise.
      </p>
      {sessions.loading && list === undefined ? <Loading label="Loading sessions…" /> : null}
      {sessions.error === undefined ? null : (
        <ErrorNote error={sessions.error} action="Sessions not loaded" />
      )}
      {list === undefined ? null : list.length === 0 ? (
        <Empty>No signed-in session.</Empty>
      ) : (
        <table>
          <caption className="visually-hidden">Your signed-in sessions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Address</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => {
              const device = deviceLabel(s.userAgent);
              const signedIn = new Date(s.createdAt).toLocaleString();
              return (
                <tr key={s.id} data-session={s.current ? 'current' : 'other'}>
                  <th scope="row">
                    {device}
                    {s.current ? (
                      <>
                        {' '}
                        <span className="badge">This session</span>
                      </>
                    ) : null}
                  </th>
                  <td>{s.ip ?? 'Unknown'}</td>
                  <td>{signedIn}</td>
                  <td>{new Date(s.lastSeenAt).toLocaleString()}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      disabled={busy}
                      aria-label={
                        s.current
                          ? 'Sign out this session'
                          : `Sign out ${device}, signed in ${signedIn}`
                      }
                      onClick={() => {
                        void end(s);
                      }}
                    >
                      Sign out
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {done === undefined ? null : (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not signed out" />}
      <p>
        Signing out everywhere ends every session of yours, on every device and in every
        organisation, this one included.
      </p>
      <button
        type="button"
        className="danger"
        onClick={() => {
          void signOut(true);
        }}
      >
        Sign out everywhere
      </button>
    </section>
  );
}
