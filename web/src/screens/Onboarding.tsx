import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import { ErrorNote } from '../components/status.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

/**
 * The one-time links `scrip serve` and `scrip users invite` print: `/bootstrap#TOKEN` (the first
 * administrator and tenant) and `/invite#TOKEN` (an invitation). The token sits in the URL
 * fragment, which browsers never send; the app reads it once and removes it from the address bar.
 */
function takeToken(): string {
  const token = window.location.hash.replace(/^#/, '');
  if (token !== '') window.history.replaceState(null, '', window.location.pathname);
  return token;
}

export function Onboarding(props: { readonly kind: 'bootstrap' | 'invite' }): ReactNode {
  const { refresh } = useSession();
  const [token] = useState(takeToken);
  const [tenantName, setTenantName] = useState('');
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const common = { token, email: email.trim(), password, displayName: displayName.trim() };
      if (props.kind === 'bootstrap') {
        await api.post(ENDPOINTS.bootstrap[1], { ...common, tenantName: tenantName.trim() });
      } else {
        await api.post(ENDPOINTS.acceptInvitation[1], common);
      }
      setPassword('');
      navigate('/', true);
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const field = (
    label: string,
    value: string,
    set: (v: string) => void,
    type = 'text',
    autoComplete = 'off',
  ): ReactNode => (
    <label>
      {label}
      <input
        type={type}
        required
        autoComplete={autoComplete}
        value={value}
        onChange={(e) => {
          set(e.target.value);
        }}
      />
    </label>
  );

  return (
    <main className="signin" id="main">
      <h1>{props.kind === 'bootstrap' ? 'Set up Scrip' : 'Accept your invitation'}</h1>
      {token === '' ? (
        <p className="note error" role="alert">
          This link is incomplete. Open the whole link you were given.
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            void submit(e);
          }}
        >
          {props.kind === 'bootstrap'
            ? field('Organisation name', tenantName, setTenantName, 'text', 'organization')
            : null}
          {field('Your name', displayName, setDisplayName, 'text', 'name')}
          {field('Email', email, setEmail, 'email', 'username')}
          {field(
            'Password (12 characters or more)',
            password,
            setPassword,
            'password',
            'new-password',
          )}
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create my account'}
          </button>
        </form>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not created" />}
    </main>
  );
}
