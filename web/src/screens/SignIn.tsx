import { useEffect, useState, type SyntheticEvent, type ReactNode } from 'react';
import { api, request } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { SsoDiscovery } from '../api/types.js';
import { passkeyAssertion, passkeysSupported } from '../api/webauthn.js';
import { SecondFactorFields } from '../components/SecondFactorFields.js';
import { ErrorNote } from '../components/status.js';
import { useSession } from '../session.js';

/** A finished-looking domain: host name labels and an alphabetic top-level label. */
const COMPLETE_DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The domain part of what was typed, when it looks complete (the address itself is never sent). */
function emailDomain(email: string): string | undefined {
  const at = email.trim().lastIndexOf('@');
  if (at < 1) return undefined;
  const domain = email
    .trim()
    .slice(at + 1)
    .toLowerCase();
  return domain.length <= 253 && COMPLETE_DOMAIN.test(domain) ? domain : undefined;
}

interface SsoOffer {
  readonly domain: string;
  readonly organisation: string;
  readonly startUrl: string;
}

/**
 * Home-realm discovery: once the typed email's domain looks complete (and typing has paused), asks
 * the server whether the domain signs in at its organisation's IdP. Sends the domain only.
 */
function useSsoOffer(email: string): SsoOffer | undefined {
  const domain = emailDomain(email);
  const [offer, setOffer] = useState<SsoOffer | undefined>(undefined);
  useEffect(() => {
    if (domain === undefined) return undefined;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      request<SsoDiscovery>('POST', ENDPOINTS.ssoDiscover[1], { domain }, { signal: abort.signal })
        .then((d) => {
          const sso =
            d.sso && d.organisation !== undefined && d.startUrl?.startsWith('/api/v1/') === true
              ? { domain, organisation: d.organisation, startUrl: d.startUrl }
              : undefined;
          setOffer(sso);
        })
        .catch(() => {
          // No offer when discovery fails: password and passkey still work.
          if (!abort.signal.aborted) setOffer(undefined);
        });
    }, 400);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [domain]);
  return offer !== undefined && offer.domain === domain ? offer : undefined;
}

/**
 * Sign in with email, password and a TOTP code (or a recovery code), with a passkey, or, when the
 * email's domain belongs to an organisation with single sign-on, at that organisation's IdP.
 */
export function SignIn(): ReactNode {
  const { refresh } = useSession();
  const [email, setEmail] = useState('');
  const sso = useSsoOffer(email);
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
        <SecondFactorFields
          code={code}
          onCode={setCode}
          useRecovery={useRecovery}
          onUseRecovery={setUseRecovery}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {sso === undefined ? null : (
        <section className="sso-offer" aria-label="Single sign-on">
          <p className="or">or</p>
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              // A top-level navigation: the server answers 302 to the IdP with a binding cookie.
              window.location.assign(sso.startUrl);
            }}
          >
            Continue with {sso.organisation} single sign-on
          </button>
        </section>
      )}
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
