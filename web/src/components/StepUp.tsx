import { useRef, useState, type ReactNode, type SyntheticEvent } from 'react';
import { ApiError, api } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import { passkeyAssertion, passkeysSupported } from '../api/webauthn.js';
import { ErrorNote } from './status.js';
import { useModalFocus } from './useModalFocus.js';

/**
 * The step-up prompt: a fresh second factor bound to one named action (POST /api/v1/auth/step-up
 * with a TOTP code, or a passkey assertion over a step-up challenge). Used wherever the server
 * answers `step_up_required` (see `withStepUp`) and before actions known to need one.
 */
export function StepUpDialog(props: {
  readonly action: string;
  readonly purpose: string;
  readonly onDone: () => void;
  readonly onCancel: () => void;
  /** Only TOTP counts (EPCS signing needs the proofed, bound factor the server checks). */
  readonly totpOnly?: boolean;
}): ReactNode {
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLDivElement>(null);
  // A modal: focus starts in it, Tab stays in it, Escape cancels, focus returns afterwards.
  useModalFocus(box, input, props.onCancel);

  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.post(ENDPOINTS.stepUp[1], { action: props.action, totp: code.trim() });
      props.onDone();
    } catch (err) {
      setError(err);
      setCode('');
    } finally {
      setBusy(false);
    }
  };

  const withPasskey = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const options = await api.post<unknown>(ENDPOINTS.passkeyStepUpOptions[1], {
        action: props.action,
      });
      const response = await passkeyAssertion(options);
      await api.post(ENDPOINTS.passkeyStepUp[1], { action: props.action, response });
      props.onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="dialog-backdrop">
      <div
        ref={box}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="stepup-title"
        aria-describedby="stepup-purpose"
      >
        <h2 id="stepup-title">Confirm it is you</h2>
        <p id="stepup-purpose">{props.purpose}</p>
        <form
          onSubmit={(e) => {
            void submit(e);
          }}
        >
          <label>
            Authenticator code
            <input
              ref={input}
              type="text"
              inputMode="numeric"
              autoComplete="one-time-code"
              required
              value={code}
              onChange={(e) => {
                setCode(e.target.value);
              }}
            />
          </label>
          <div className="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Checking…' : 'Confirm'}
            </button>
            {props.totpOnly !== true && passkeysSupported() ? (
              <button
                type="button"
                className="secondary"
                disabled={busy}
                onClick={() => {
                  void withPasskey();
                }}
              >
                Use a passkey
              </button>
            ) : null}
            <button type="button" className="secondary" onClick={props.onCancel}>
              Cancel
            </button>
          </div>
        </form>
        {error === undefined ? null : <ErrorNote error={error} action="Not confirmed" />}
      </div>
    </div>
  );
}

/**
 * Runs `fn`; when the server answers step_up_required, asks for a step-up (through `ask`) and
 * runs it once more.
 */
export async function withStepUp<T>(
  fn: () => Promise<T>,
  ask: (action: string) => Promise<boolean>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const action = err instanceof ApiError ? err.stepUpAction : undefined;
    if (action === undefined) throw err;
    if (!(await ask(action))) return undefined;
    return fn();
  }
}

/**
 * A hook holding one pending step-up prompt: `ask(action)` resolves when done or cancelled;
 * `run(fn)` calls `fn`, and when the server answers step_up_required asks and calls it once more
 * (cancelling rejects with the server's error). Render `dialog` somewhere in the screen (outside
 * any form).
 */
export function useStepUp(
  purpose = 'This action needs a fresh second factor. Enter the code from your authenticator app.',
  totpOnly = false,
): {
  readonly ask: (action: string) => Promise<boolean>;
  readonly run: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly dialog: ReactNode;
} {
  const [pending, setPending] = useState<
    { action: string; resolve: (ok: boolean) => void } | undefined
  >(undefined);
  const ask = (action: string): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      setPending({ action, resolve });
    });
  const dialog =
    pending === undefined ? null : (
      <StepUpDialog
        action={pending.action}
        purpose={purpose}
        totpOnly={totpOnly}
        onDone={() => {
          pending.resolve(true);
          setPending(undefined);
        }}
        onCancel={() => {
          pending.resolve(false);
          setPending(undefined);
        }}
      />
    );
  const run = async <T,>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const action = err instanceof ApiError ? err.stepUpAction : undefined;
      if (action === undefined || !(await ask(action))) throw err;
      return fn();
    }
  };
  return { ask, run, dialog };
}
