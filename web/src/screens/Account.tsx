import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { Passkey, TotpEnrolment } from '../api/types.js';
import { passkeyCreation, passkeysSupported } from '../api/webauthn.js';
import { useStepUp, withStepUp } from '../components/StepUp.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { useMe, useSession } from '../session.js';
import { Sessions } from './account/Sessions.js';

/** The authenticator QR code as an image (a data: URL: no inline SVG markup in the page). */
function qrSource(svg: string): string {
  return `data:image/svg+xml;base64,${btoa(svg)}`;
}

/** TOTP enrolment: the QR code (and the secret to type), then the first code confirms it. */
export function TotpEnrolment(props: { readonly onDone: () => void }): ReactNode {
  const [enrolment, setEnrolment] = useState<TotpEnrolment | undefined>(undefined);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const begin = async (): Promise<void> => {
    setError(undefined);
    try {
      setEnrolment(await api.post<TotpEnrolment>(ENDPOINTS.totpEnrol[1]));
    } catch (err) {
      setError(err);
    }
  };
  const confirm = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.post<{ recoveryCodes?: string[] }>(ENDPOINTS.totpConfirm[1], {
        code: code.trim(),
      });
      setCodes(r.recoveryCodes ?? []);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (codes !== undefined) {
    return (
      <div>
        <p className="note ok" role="status">
          Your authenticator is set up.
        </p>
        <RecoveryCodeList codes={codes} />
        <button type="button" onClick={props.onDone}>
          Continue
        </button>
      </div>
    );
  }
  return (
    <div>
      {enrolment === undefined ? (
        <button
          type="button"
          onClick={() => {
            void begin();
          }}
        >
          Set up an authenticator app
        </button>
      ) : (
        <>
          <p>Scan this code with your authenticator app, then enter the code it shows.</p>
          <img
            className="qr"
            src={qrSource(enrolment.qrSvg)}
            alt="QR code for your authenticator app"
          />
          <p>
            Or type this key: <code>{enrolment.secret}</code>
          </p>
          <form
            onSubmit={(e) => {
              void confirm(e);
            }}
          >
            <label>
              Code from the app
              <input
                inputMode="numeric"
                autoComplete="one-time-code"
                required
                value={code}
                onChange={(e) => {
                  setCode(e.target.value);
                }}
              />
            </label>
            <button type="submit" disabled={busy}>
              Confirm
            </button>
          </form>
        </>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not set up" />}
    </div>
  );
}

function RecoveryCodeList(props: { readonly codes: readonly string[] }): ReactNode {
  if (props.codes.length === 0) return null;
  return (
    <div className="note warn">
      <p>
        Recovery codes: each works once if you lose your authenticator. Keep them somewhere safe;
        they are not shown again.
      </p>
      <ul>
        {props.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A signed-in user with a restricted session: enrol a second factor before anything else. */
export function EnrolmentRequired(): ReactNode {
  const { refresh, signOut } = useSession();
  return (
    <main id="main" className="signin">
      <h1>Set up two-factor authentication</h1>
      <p>Scrip requires a second factor for everyone. Set one up to continue.</p>
      <TotpEnrolment
        onDone={() => {
          void refresh();
        }}
      />
      <p>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            void signOut();
          }}
        >
          Sign out
        </button>
      </p>
    </main>
  );
}

/** Account: passkeys, recovery codes, sessions. */
export function Account(): ReactNode {
  const me = useMe();
  const stepUp = useStepUp('Changing your sign-in methods needs a fresh second factor.');
  const passkeys = useLoad(
    (signal) => api.get<{ credentials: Passkey[] }>(ENDPOINTS.passkeyList[1], { signal }),
    [],
  );
  const [name, setName] = useState('');
  const [codes, setCodes] = useState<string[] | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);

  const run = async (label: string, fn: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      if ((await fn()) !== undefined) setDone(label);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const register = (): Promise<void> =>
    run('Passkey added.', async () => {
      const options = await api.post<unknown>(ENDPOINTS.passkeyRegisterOptions[1]);
      const response = await passkeyCreation(options);
      const r = await api.post(ENDPOINTS.passkeyRegister[1], {
        response,
        ...(name.trim() === '' ? {} : { name: name.trim() }),
      });
      setName('');
      passkeys.reload();
      return r;
    });
  const remove = (id: string): Promise<void> =>
    run('Passkey removed.', async () => {
      const r = await api.del(fill(ENDPOINTS.passkeyDelete[1], { id }));
      passkeys.reload();
      return r ?? {};
    });
  const regenerate = (): Promise<void> =>
    run('New recovery codes made; the old ones no longer work.', async () => {
      const r = await withStepUp(
        () => api.post<{ recoveryCodes: string[] }>(ENDPOINTS.recoveryCodes[1]),
        stepUp.ask,
      );
      if (r !== undefined) setCodes(r.recoveryCodes);
      return r;
    });

  const active = passkeys.data?.credentials.filter((c) => c.revokedAt === null) ?? [];
  return (
    <>
      <section aria-labelledby="account-heading">
        <h1 id="account-heading">Account</h1>
        <dl className="facts">
          <dt>Name</dt>
          <dd>{me.displayName}</dd>
          <dt>Email</dt>
          <dd>{me.email}</dd>
          <dt>Roles</dt>
          <dd>{me.roles.join(', ') || 'none'}</dd>
          <dt>Authenticator app</dt>
          <dd>{me.mfaEnrolled ? 'Set up' : 'Not set up'}</dd>
        </dl>
      </section>
      <section aria-labelledby="passkeys-heading">
        <h2 id="passkeys-heading">Passkeys</h2>
        {passkeys.loading && passkeys.data === undefined ? <Loading /> : null}
        {passkeys.error === undefined ? null : <ErrorNote error={passkeys.error} />}
        {passkeys.data === undefined ? null : active.length === 0 ? (
          <Empty>No passkey yet.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Added</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {active.map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td>{new Date(c.createdAt).toLocaleDateString()}</td>
                  <td>
                    {c.lastUsedAt === null ? 'Never' : new Date(c.lastUsedAt).toLocaleString()}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      disabled={busy}
                      aria-label={`Remove passkey ${c.name}`}
                      onClick={() => {
                        void remove(c.id);
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {passkeysSupported() ? (
          <div className="actions">
            <label>
              Passkey name
              <input
                value={name}
                maxLength={64}
                onChange={(e) => {
                  setName(e.target.value);
                }}
              />
            </label>
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                void register();
              }}
            >
              Add a passkey
            </button>
          </div>
        ) : (
          <p>This browser does not support passkeys.</p>
        )}
      </section>
      <section aria-labelledby="recovery-heading">
        <h2 id="recovery-heading">Recovery codes</h2>
        <p>Single-use codes for when your authenticator is not at hand.</p>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={() => {
            void regenerate();
          }}
        >
          Make new recovery codes
        </button>
        {codes === undefined ? null : <RecoveryCodeList codes={codes} />}
      </section>
      <Sessions />
      {done === undefined ? null : (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not done" />}
      {stepUp.dialog}
    </>
  );
}
