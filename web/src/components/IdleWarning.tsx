import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, onApiAnswer } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import { useSession } from '../session.js';

/** The server's idle timeout (README: 15 minutes) and how long before it the warning shows. */
export const IDLE_MS = 15 * 60_000;
export const WARN_MS = 2 * 60_000;

/**
 * Warns before the idle timeout signs the user out, and signs out when it passes. Any answer
 * from the server counts as activity (the server's idle clock restarts on every request); a 401
 * means the session is gone already.
 */
export function IdleWarning(): ReactNode {
  const { signOut, lost } = useSession();
  const last = useRef(Date.now());
  const [left, setLeft] = useState<number | undefined>(undefined);

  useEffect(
    () =>
      onApiAnswer((status) => {
        if (status === 401) lost();
        else last.current = Date.now();
      }),
    [lost],
  );

  useEffect(() => {
    const timer = window.setInterval(() => {
      const remaining = IDLE_MS - (Date.now() - last.current);
      if (remaining <= 0) {
        window.clearInterval(timer);
        void signOut();
      } else setLeft(remaining <= WARN_MS ? remaining : undefined);
    }, 1000);
    return () => {
      window.clearInterval(timer);
    };
  }, [signOut]);

  if (left === undefined) return null;
  const seconds = Math.ceil(left / 1000);
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="idle-title"
        aria-describedby="idle-text"
      >
        <h2 id="idle-title">Still there?</h2>
        <p id="idle-text">
          For the patients’ privacy you will be signed out in {Math.floor(seconds / 60)}:
          {String(seconds % 60).padStart(2, '0')} unless you continue.
        </p>
        <div className="actions">
          <button
            type="button"
            autoFocus
            onClick={() => {
              void api.get(ENDPOINTS.session[1]);
            }}
          >
            Stay signed in
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              void signOut();
            }}
          >
            Sign out now
          </button>
        </div>
      </div>
    </div>
  );
}
