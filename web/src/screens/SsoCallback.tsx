import { useEffect, useRef, useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { SsoCallbackAnswer, SsoCompleteBody } from '../api/types.js';
import { SecondFactorFields } from '../components/SecondFactorFields.js';
import { ErrorNote, Loading } from '../components/status.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

/** The web app's redirect URI for single sign-on (the tenant registers https://HOST/sso/callback). */
export const SSO_CALLBACK_PAGE = '/sso/callback';

type Stage =
  | { readonly kind: 'working' }
  | { readonly kind: 'mfa' }
  | { readonly kind: 'linked' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Where the IdP sends the browser back (OpenID Connect Core 1.0 §3.1.2.5): the code and state are
 * dropped from the address bar and history at once, then handed to the server's callback (same
 * origin, with the transaction's binding cookie). A session ends the screen; a pending second
 * factor asks for the authenticator or recovery code; a new link says so.
 */
export function SsoCallback(props: {
  readonly query: string;
  readonly onDone: () => void;
}): ReactNode {
  const { query, onDone } = props;
  const { refresh } = useSession();
  const [stage, setStage] = useState<Stage>({ kind: 'working' });
  const started = useRef(false);

  useEffect(() => {
    document.title = 'Single sign-on · Scrip';
  }, []);

  useEffect(() => {
    // The state is single use: never send it twice (StrictMode runs effects twice in development).
    if (started.current) return;
    started.current = true;
    navigate('/', true);
    const finish = async (): Promise<void> => {
      try {
        const r = await api.get<SsoCallbackAnswer>(`${ENDPOINTS.ssoCallback[1]}?${query}`);
        switch (r.status) {
          case 'signed_in':
          case 'enrolment_required':
            // A restricted (enrolment-only) session lands on the app's enrolment screen.
            await refresh();
            onDone();
            return;
          case 'mfa_required':
            setStage({ kind: 'mfa' });
            return;
          case 'linked':
            setStage({ kind: 'linked' });
            return;
        }
      } catch (err) {
        setStage({ kind: 'failed', error: err });
      }
    };
    void finish();
  }, [query, refresh, onDone]);

  return (
    <main className="signin" id="main">
      <h1>Single sign-on</h1>
      {stage.kind === 'working' ? <Loading label="Finishing the sign-in…" /> : null}
      {stage.kind === 'mfa' ? <SecondFactor onDone={onDone} /> : null}
      {stage.kind === 'linked' ? (
        <>
          <p className="note ok" role="status">
            Your account is now linked to your organisation&apos;s sign-in. Next time, use the
            single sign-on button on the sign-in page.
          </p>
          <button
            type="button"
            onClick={() => {
              void refresh().then(onDone);
            }}
          >
            Continue
          </button>
        </>
      ) : null}
      {stage.kind === 'failed' ? (
        <>
          <ErrorNote error={stage.error} action="Single sign-on failed" />
          <button type="button" onClick={onDone}>
            Back to sign-in
          </button>
        </>
      ) : null}
    </main>
  );
}

/** The local second factor the tenant still requires after the IdP sign-in. */
function SecondFactor(props: { readonly onDone: () => void }): ReactNode {
  const { refresh } = useSession();
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const trimmed = code.trim();
      const body: SsoCompleteBody = useRecovery ? { recoveryCode: trimmed } : { totp: trimmed };
      await api.post<SsoCallbackAnswer>(ENDPOINTS.ssoComplete[1], body);
      setCode('');
      await refresh();
      props.onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      onSubmit={(e) => {
        void submit(e);
      }}
      aria-describedby={error === undefined ? 'sso-mfa-help' : 'sso-mfa-help sso-mfa-error'}
    >
      <p id="sso-mfa-help">
        Your organisation signed you in. Scrip also needs the code from your authenticator app.
      </p>
      <SecondFactorFields
        code={code}
        onCode={setCode}
        useRecovery={useRecovery}
        onUseRecovery={setUseRecovery}
        required
      />
      <button type="submit" disabled={busy}>
        {busy ? 'Checking…' : 'Continue'}
      </button>
      {error === undefined ? null : (
        <div id="sso-mfa-error">
          <ErrorNote error={error} action="The code was not accepted" />
        </div>
      )}
    </form>
  );
}
