import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, onApiAnswer } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import { useMe, useSession } from '../session.js';
import { useModalFocus } from './useModalFocus.js';

/**
 * How long before the idle timeout the warning shows: two minutes, or half the timeout when the
 * server's is shorter than four minutes.
 */
export function warnBeforeMs(idleMs: number): number {
  return Math.min(2 * 60_000, Math.floor(idleMs / 2));
}

/**
 * Warns before the server's idle timeout (GET /api/v1/auth/session: idleTimeoutSeconds, set by
 * SCRIP_SESSION_IDLE_MINUTES) signs the user out, and signs out when it passes. Any answer from
 * the server counts as activity (the server's idle clock restarts on every request); a 401 means
 * the session is gone already.
 */
export function IdleWarning(): ReactNode {
  const { signOut, lost } = useSession();
  const idleMs = useMe().idleTimeoutSeconds * 1000;
  const warnMs = warnBeforeMs(idleMs);
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
      const remaining = idleMs - (Date.now() - last.current);
      if (remaining <= 0) {
        window.clearInterval(timer);
        void signOut();
      } else setLeft(remaining <= warnMs ? remaining : undefined);
    }, 1000);
    return () => {
      window.clearInterval(timer);
    };
  }, [signOut, idleMs, warnMs]);

  if (left === undefined) return null;
  return (
    <IdleDialog
      seconds={Math.ceil(left / 1000)}
      onStay={() => {
        void api.get(ENDPOINTS.session[1]);
      }}
      onSignOut={() => {
        void signOut();
      }}
    />
  );
}

/** The warning itself: a modal whose Escape (like its first button) keeps the session. */
function IdleDialog(props: {
  readonly seconds: number;
  readonly onStay: () => void;
  readonly onSignOut: () => void;
}): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const stay = useRef<HTMLButtonElement>(null);
  useModalFocus(box, stay, props.onStay);
  const { seconds } = props;
  return (
    <div className="dialog-backdrop">
      <div
        ref={box}
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
          <button ref={stay} type="button" onClick={props.onStay}>
            Stay signed in
          </button>
          <button type="button" className="secondary" onClick={props.onSignOut}>
            Sign out now
          </button>
        </div>
      </div>
    </div>
  );
}
