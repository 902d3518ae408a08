import { useState, type SyntheticEvent, type ReactNode } from 'react';
import { api } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import { passkeyAssertion, passkeysSupported } from '../api/webauthn.js';
import { ErrorNote } from '../components/status.js';
import { useSession } from '../session.js';

/** Sign in with email, password and a TOTP code (or a recovery code), or with a passkey. */
export function SignIn(): ReactNode {
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
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
      await api.post(ENDPOINTS.login[1], {
        email: email.trim(),
        password,
        ...(trimmed === '' ? {} : useRecovery ? { recoveryCode: trimmed } : { totp: trimmed }),
      });
      setPassword('');
      setCode('');
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const withPasskey = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const options = await api.post<unknown>(ENDPOINTS.passkeyLoginOptions[1], {});
      const response = await passkeyAssertion(options);
      await api.post(ENDPOINTS.passkeyLogin[1], { response });
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <h1>Sign in to Scrip</h1>
      <form
        onSubmit={(e) => {
          void submit(e);
        }}
        aria-describedby={error === undefined ? undefined : 'signin-error'}
      >
        <label>
          Email
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => {
              setEmail(e.target.value);
            }}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => {
              setPassword(e.target.value);
            }}
          />
        </label>
        <label>
          {useRecovery ? 'Recovery code' : 'Authenticator code'}
          <input
            type="text"
            name="code"
            inputMode={useRecovery ? 'text' : 'numeric'}
            autoComplete="one-time-code"
            value={code}
            onChange={(e) => {
              setCode(e.target.value);
            }}
          />
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={useRecovery}
            onChange={(e) => {
              setUseRecovery(e.target.checked);
            }}
          />
          Use a recovery code instead
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {passkeysSupported() ? (
        <>
          <p className="or">or</p>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              void withPasskey();
            }}
          >
            Sign in with a passkey
          </button>
        </>
      ) : null}
      {error === undefined ? null : (
        <div id="signin-error">
          <ErrorNote error={error} action="Sign-in failed" />
        </div>
      )}
    </main>
  );
}
