import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { IdleWarning } from './components/IdleWarning.js';
import { ErrorNote, Loading } from './components/status.js';
import { EnrolmentRequired } from './screens/Account.js';
import { Link, match, usePath } from './router.js';
import { SCREENS, type ScreenDef } from './screens/index.js';
import { Onboarding } from './screens/Onboarding.js';
import { SignIn } from './screens/SignIn.js';
import { SSO_CALLBACK_PAGE, SsoCallback } from './screens/SsoCallback.js';
import { hasRole, useMe, useSession } from './session.js';

function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Scrip`;
  }, [title]);
}

/** The IdP's answer when the app was opened at its SSO redirect URI (read once, at start). */
function ssoQueryAtStart(): string | undefined {
  return window.location.pathname === SSO_CALLBACK_PAGE
    ? window.location.search.slice(1)
    : undefined;
}

export function App(): ReactNode {
  const { me, error } = useSession();
  const [ssoQuery, setSsoQuery] = useState(ssoQueryAtStart);
  const ssoDone = useCallback(() => {
    setSsoQuery(undefined);
  }, []);
  // Before the session: the callback may sign in, or link an identity for a signed-in user.
  if (ssoQuery !== undefined) return <SsoCallback query={ssoQuery} onDone={ssoDone} />;
  if (me === undefined) return <Loading label="Loading Scrip…" />;
  if (me === null) return <SignedOut error={error} />;
  if (me.restricted) return <Enrolment />;
  return <Shell />;
}

function SignedOut(props: { readonly error: unknown }): ReactNode {
  const path = usePath();
  const onboarding =
    path === '/bootstrap' ? 'bootstrap' : path === '/invite' ? 'invite' : undefined;
  useTitle(onboarding === undefined ? 'Sign in' : 'Create your account');
  if (onboarding !== undefined) return <Onboarding kind={onboarding} />;
  return (
    <>
      {props.error === undefined ? null : <ErrorNote error={props.error} />}
      <SignIn />
    </>
  );
}

function Enrolment(): ReactNode {
  useTitle('Set up two-factor authentication');
  return <EnrolmentRequired />;
}

function findScreen(
  path: string,
): { screen: ScreenDef; params: Record<string, string> } | undefined {
  for (const screen of SCREENS) {
    const params = match(screen.path, path);
    if (params !== undefined) return { screen, params };
  }
  return undefined;
}

function Shell(): ReactNode {
  const me = useMe();
  const { signOut } = useSession();
  const path = usePath();
  const found = findScreen(path);
  const allowed = found !== undefined && hasRole(me, found.screen.roles);
  useTitle(found === undefined ? 'Not found' : allowed ? found.screen.title : 'Not allowed');
  const nav = SCREENS.filter((s) => s.nav !== undefined && hasRole(me, s.roles));
  // A new screen moves the keyboard focus to its content (as a page load would).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus();
  }, [path]);
  return (
    <div className="shell">
      <IdleWarning />
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Scrip</span>
        <nav aria-label="Main">
          <ul>
            {nav.map((s) => (
              <li key={s.path}>
                <Link to={s.path} aria-current={s.path === path ? 'page' : undefined}>
                  {s.nav}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">{me.displayName}</span>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            void signOut();
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {found === undefined ? (
          <section>
            <h1>Not found</h1>
            <p>
              There is no such page. <Link to="/">Go home</Link>.
            </p>
          </section>
        ) : !allowed ? (
          <section>
            <h1>Not allowed</h1>
            <p>Your roles do not include this screen.</p>
          </section>
        ) : (
          <found.screen.component params={found.params} />
        )}
      </main>
    </div>
  );
}
