import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { localDay, useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';
import { ROLES } from './catalogs.js';

/**
 * A new access-review campaign (POST /api/v1/access-reviews; 45 CFR 164.308(a)(3)(ii)(B),
 * 164.308(a)(4)(ii)(C)): its name, scope (every membership or the holders of chosen roles),
 * reviewers (members holding access.review; the server checks) and due date. It starts as a
 * draft; opening it snapshots the memberships in scope.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CreatedCampaign {
  readonly id: string;
  readonly name: string;
}

export function CampaignForm(props: { readonly onDone: (c: CreatedCampaign) => void }): ReactNode {
  const me = useMe();
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'all' | 'roles'>('all');
  const [roles, setRoles] = useState<readonly string[]>([]);
  const [includeMe, setIncludeMe] = useState(true);
  const [others, setOthers] = useState('');
  const [due, setDue] = useState(localDay(14));
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const action = useAction();

  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const ids = others
      .split(/[\s,]+/)
      .map((x) => x.trim())
      .filter((x) => x !== '');
    const reviewers = [...new Set([...(includeMe ? [me.userId] : []), ...ids])];
    const dueAt = new Date(`${due}T23:59:59`);
    const wrong =
      scope === 'roles' && roles.length === 0
        ? 'Choose at least one role to review, or review every membership.'
        : ids.some((x) => !UUID.test(x))
          ? 'Other reviewers are user ids (UUIDs), separated by commas.'
          : reviewers.length === 0 || reviewers.length > 20
            ? 'Name 1 to 20 reviewers.'
            : Number.isNaN(dueAt.getTime()) || dueAt.getTime() <= Date.now()
              ? 'The due date must be in the future.'
              : undefined;
    setProblem(wrong);
    if (wrong !== undefined) return;
    void action.run(async () => {
      const c = await api.post<CreatedCampaign>(E.accessReviewCreate[1], {
        name: name.trim(),
        ...(scope === 'roles' ? { roles } : {}),
        reviewers,
        dueAt: dueAt.toISOString(),
      });
      setName('');
      props.onDone(c);
    });
  };

  return (
    <details className="panel">
      <summary>Create a campaign</summary>
      <form onSubmit={submit}>
        <label>
          Campaign name
          <input
            required
            maxLength={200}
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
        <fieldset>
          <legend>Scope</legend>
          <label className="inline">
            <input
              type="radio"
              name="scope"
              checked={scope === 'all'}
              onChange={() => {
                setScope('all');
              }}
            />
            Every membership
          </label>
          <label className="inline">
            <input
              type="radio"
              name="scope"
              checked={scope === 'roles'}
              onChange={() => {
                setScope('roles');
              }}
            />
            Holders of these roles
          </label>
        </fieldset>
        {scope === 'roles' ? (
          <fieldset>
            <legend>Roles to review</legend>
            {ROLES.map((r) => (
              <label key={r} className="inline">
                <input
                  type="checkbox"
                  checked={roles.includes(r)}
                  onChange={(e) => {
                    setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r));
                  }}
                />
                {r}
              </label>
            ))}
          </fieldset>
        ) : null}
        <fieldset>
          <legend>Reviewers (members holding access review)</legend>
          <label className="inline">
            <input
              type="checkbox"
              checked={includeMe}
              onChange={(e) => {
                setIncludeMe(e.target.checked);
              }}
            />
            Me ({me.displayName})
          </label>
          <label>
            Other reviewers (user ids, comma separated)
            <input
              value={others}
              onChange={(e) => {
                setOthers(e.target.value);
              }}
            />
          </label>
        </fieldset>
        <label>
          Due by (end of day)
          <input
            type="date"
            required
            min={localDay()}
            value={due}
            onChange={(e) => {
              setDue(e.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Create campaign
        </button>
        {problem === undefined ? null : (
          <p className="note error" role="alert">
            {problem}
          </p>
        )}
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Creating the campaign" />
        )}
      </form>
    </details>
  );
}
