import {
  useCallback,
  useEffect,
  useRef,
  useState,
  type ReactNode,
  type SyntheticEvent,
} from 'react';
import { ApiError, api } from '../api/client.js';
import { CONSOLE_ENDPOINTS } from '../api/console-endpoints.js';
import { passkeyAssertion, passkeysSupported } from '../api/webauthn.js';
import { ErrorNote } from './status.js';

/**
 * Step-up for actions the server guards with a fresh second factor (`step_up_required`, the
 * problem's detail naming the action). `useStepUp().run(fn)` calls `fn`; when the server asks for
 * a step-up it opens a dialog for an authenticator code (or a passkey), posts it to
 * /api/v1/auth/step-up (or the passkey step-up), and calls `fn` once more. Cancelling rejects
 * with the original error. Render `dialog` somewhere in the screen.
 */
const STEP_UP = CONSOLE_ENDPOINTS.stepUp[1];
const PASSKEY_OPTIONS = CONSOLE_ENDPOINTS.passkeyStepUpOptions[1];
const PASSKEY_STEP_UP = CONSOLE_ENDPOINTS.passkeyStepUp[1];

interface Pending {
  readonly action: string;
  readonly retry: () => Promise<void>;
  readonly cancel: () => void;
}

export interface StepUp {
  readonly run: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly dialog: ReactNode;
}

export function useStepUp(): StepUp {
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const action = err instanceof ApiError ? err.stepUpAction : undefined;
      if (action === undefined) throw err;
      return new Promise<T>((resolve, reject) => {
        setPending({
          action,
          retry: async () => {
            resolve(await fn());
          },
          cancel: () => {
            reject(err instanceof Error ? err : new Error('step-up cancelled'));
          },
        });
      });
    }
  }, []);
  const dialog =
    pending === undefined ? null : (
      <StepUpDialog
        action={pending.action}
        onDone={async () => {
          setPending(undefined);
          await pending.retry();
        }}
        onCancel={() => {
          setPending(undefined);
          pending.cancel();
        }}
      />
    );
  return { run, dialog };
}

export function StepUpDialog(props: {
  readonly action: string;
  readonly onDone: () => Promise<void>;
  readonly onCancel: () => void;
}): ReactNode {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const cancel = useRef(props.onCancel);
  useEffect(() => {
    cancel.current = props.onCancel;
  }, [props.onCancel]);
  useEffect(() => {
    // A modal: focus starts in it, Tab stays in it, Escape cancels, focus returns afterwards.
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    input.current?.focus();
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') {
        cancel.current();
        return;
      }
      if (e.key !== 'Tab' || box.current === null) return;
      const focusable = [
        ...box.current.querySelectorAll<HTMLElement>('input, button:not([disabled])'),
      ];
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (first === undefined || last === undefined) return;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      before?.focus();
    };
  }, []);

  const finish = async (step: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await step();
    } catch (err) {
      setError(err);
      setBusy(false);
      return;
    }
    try {
      await props.onDone();
    } catch {
      // The retried action reports its own error to its screen.
    }
  };

  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void finish(() => api.post(STEP_UP, { action: props.action, totp: code.trim() }));
  };

  const withPasskey = (): void => {
    void finish(async () => {
      const options = await api.post<unknown>(PASSKEY_OPTIONS, { action: props.action });
      const response = await passkeyAssertion(options);
      await api.post(PASSKEY_STEP_UP, { action: props.action, response });
    });
  };

  return (
    <div className="dialog-backdrop">
      <div
        ref={box}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="step-up-title"
        aria-describedby="step-up-desc"
      >
        <h2 id="step-up-title">Confirm it is you</h2>
        <p id="step-up-desc">
          This action needs a fresh second factor. Enter the code from your authenticator app.
        </p>
        <form onSubmit={submit}>
          <label>
            Authenticator code
            <input
              ref={input}
              type="text"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6,8}"
              required
              value={code}
              onChange={(e) => {
                setCode(e.target.value);
              }}
            />
          </label>
          <div className="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Confirming…' : 'Confirm'}
            </button>
            {passkeysSupported() ? (
              <button type="button" className="secondary" disabled={busy} onClick={withPasskey}>
                Use a passkey
              </button>
            ) : null}
            <button type="button" className="secondary" onClick={props.onCancel}>
              Cancel
            </button>
          </div>
        </form>
        {error === undefined ? null : <ErrorNote error={error} action="Confirmation failed" />}
      </div>
    </div>
  );
}
