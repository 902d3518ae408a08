import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { LoadState, can, useAction, useLoad, when } from '../../components/console.js';
import { useStepUp } from '../../components/StepUp.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface User {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly status: string;
  readonly roles: readonly string[];
  readonly lastLoginAt: string | null;
}
interface Catalog {
  readonly version: number;
  readonly catalog: Readonly<Record<string, readonly string[]>>;
}

/** Users, invitations and roles; a role change needs a step-up (the server asks for it). */
export function Users(): ReactNode {
  const me = useMe();
  const admin = can(me, 'user.admin');
  const users = useLoad<{ users: readonly User[] }>(E.users[1]);
  const catalog = useLoad<Catalog>(E.roleCatalog[1]);
  const roles = Object.keys(catalog.data?.catalog ?? {});
  const [editing, setEditing] = useState<string | undefined>(undefined);
  return (
    <section>
      <h1>Users and roles</h1>
      {admin ? <Invite roles={roles} /> : null}
      <LoadState loaded={users} what="users">
        {(d) =>
          d.users.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <table>
              <caption>Users of this organisation</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Status</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Last sign-in</th>
                  {admin ? <th scope="col">Actions</th> : null}
                </tr>
              </thead>
              <tbody>
                {d.users.map((u) => (
                  <tr key={u.id}>
                    <td>{u.displayName}</td>
                    <td>{u.email}</td>
                    <td>{u.status}</td>
                    <td>
                      {editing === u.id ? (
                        <RoleEditor
                          user={u}
                          roles={roles}
                          onDone={() => {
                            setEditing(undefined);
                            users.reload();
                          }}
                        />
                      ) : (
                        u.roles.join(', ') || '—'
                      )}
                    </td>
                    <td>{when(u.lastLoginAt)}</td>
                    {admin ? (
                      <td>
                        {u.id === me.userId ? (
                          <span className="muted">you</span>
                        ) : editing === u.id ? null : (
                          <button
                            type="button"
                            className="secondary"
                            aria-label={`Change roles of ${u.displayName}`}
                            onClick={() => {
                              setEditing(u.id);
                            }}
                          >
                            Change roles
                          </button>
                        )}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
      <LoadState loaded={catalog} what="the role catalog">
        {(c) => (
          <details className="panel">
            <summary>Role catalog (version {c.version})</summary>
            <dl className="facts">
              {Object.entries(c.catalog).map(([role, perms]) => (
                <div key={role}>
                  <dt>{role.replace(/_/g, ' ')}</dt>
                  <dd>{perms.length === 0 ? 'no permissions' : perms.join(', ')}</dd>
                </div>
              ))}
            </dl>
          </details>
        )}
      </LoadState>
    </section>
  );
}

function RoleEditor(props: {
  readonly user: User;
  readonly roles: readonly string[];
  readonly onDone: () => void;
}): ReactNode {
  const [chosen, setChosen] = useState<readonly string[]>(props.user.roles);
  const stepUp = useStepUp();
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await stepUp.run(() =>
        api.put(fill(E.userRoles[1], { id: props.user.id }), { roles: chosen }),
      );
      props.onDone();
    });
  };
  return (
    <>
      <form onSubmit={submit} aria-label={`Roles of ${props.user.displayName}`}>
        <fieldset>
          <legend>Roles</legend>
          {props.roles.map((r) => (
            <label key={r} className="inline">
              <input
                type="checkbox"
                checked={chosen.includes(r)}
                onChange={(e) => {
                  setChosen(e.target.checked ? [...chosen, r] : chosen.filter((x) => x !== r));
                }}
              />
              {r.replace(/_/g, ' ')}
            </label>
          ))}
        </fieldset>
        <p className="muted">Saving ends the user’s sessions and asks you to confirm it is you.</p>
        <div className="actions">
          <button type="submit" disabled={action.busy || chosen.length === 0}>
            Save roles
          </button>
          <button type="button" className="secondary" onClick={props.onDone}>
            Cancel
          </button>
        </div>
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Changing roles" />
        )}
      </form>
      {stepUp.dialog}
    </>
  );
}

function Invite(props: { readonly roles: readonly string[] }): ReactNode {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('');
  const [link, setLink] = useState<{ token: string; expiresAt: string } | undefined>(undefined);
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    setLink(undefined);
    void action.run(async () => {
      setLink(
        await api.post<{ token: string; expiresAt: string }>(E.invite[1], {
          email: email.trim(),
          roles: [role],
        }),
      );
      setEmail('');
    });
  };
  return (
    <details className="panel">
      <summary>Invite someone</summary>
      <form onSubmit={submit}>
        <label>
          Email
          <input
            type="email"
            required
            autoComplete="off"
            value={email}
            onChange={(e) => {
              setEmail(e.target.value);
            }}
          />
        </label>
        <label>
          Role
          <select
            required
            value={role}
            onChange={(e) => {
              setRole(e.target.value);
            }}
          >
            <option value="">Choose a role</option>
            {props.roles.map((r) => (
              <option key={r} value={r}>
                {r.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={action.busy || role === ''}>
          Create invitation
        </button>
      </form>
      {action.error === undefined ? null : <ErrorNote error={action.error} action="Inviting" />}
      {link === undefined ? null : (
        <div className="note ok" role="status">
          <p>
            Invitation created, valid until {when(link.expiresAt)}. Give this single-use code to the
            person over a trusted channel; it is shown once:
          </p>
          <p>
            <code className="secret">{link.token}</code>
          </p>
        </div>
      )}
    </details>
  );
}
