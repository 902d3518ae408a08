import { useState, type ReactNode } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import {
  Badge,
  LoadState,
  ShortId,
  Success,
  can,
  serverReason,
  useAction,
  useLoad,
  when,
} from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';
import { CampaignForm } from './CampaignForm.js';

interface Campaign {
  readonly id: string;
  readonly name: string;
  readonly scope: string;
  readonly scopeRoles: readonly string[];
  readonly reviewers: readonly string[];
  readonly dueAt: string;
  readonly status: string;
}
interface CloseResult {
  readonly kept: number;
  readonly revoked: number;
  readonly unreviewed: number;
}
interface Item {
  readonly id: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly decision: string | null;
  readonly decidedAt: string | null;
  readonly outcome: string | null;
}

/**
 * Access-review campaigns: create one, open it (the memberships in scope become items), attest
 * each item (keep or revoke; never your own), close it (revocations applied).
 */
export function AccessReviews(): ReactNode {
  const me = useMe();
  const loaded = useLoad<{ campaigns: readonly Campaign[] }>(E.accessReviews[1]);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<string | undefined>(undefined);
  return (
    <section>
      <h1>Access reviews</h1>
      {can(me, 'access.review') ? (
        <CampaignForm
          onDone={(c) => {
            setCreated(`Campaign ${c.name} created as a draft: open it to list the memberships.`);
            loaded.reload();
            setOpen(c.id);
          }}
        />
      ) : null}
      {created === undefined ? null : <Success>{created}</Success>}
      <LoadState loaded={loaded} what="access reviews">
        {(d) =>
          d.campaigns.length === 0 ? (
            <Empty>No access-review campaigns yet.</Empty>
          ) : (
            <table>
              <caption>Campaigns</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Due</th>
                  <th scope="col">Status</th>
                  <th scope="col">Items</th>
                </tr>
              </thead>
              <tbody>
                {d.campaigns.map((c) => (
                  <tr key={c.id}>
                    <td>{c.name}</td>
                    <td>{c.scope === 'roles' ? c.scopeRoles.join(', ') : c.scope}</td>
                    <td>{when(c.dueAt)}</td>
                    <td>{c.status}</td>
                    <td>
                      <button
                        type="button"
                        className="secondary"
                        aria-expanded={open === c.id}
                        onClick={() => {
                          setOpen(open === c.id ? undefined : c.id);
                        }}
                      >
                        {open === c.id ? 'Hide items' : `Review ${c.name}`}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
      {open === undefined ? null : <CampaignItems key={open} id={open} onChange={loaded.reload} />}
    </section>
  );
}

function CampaignItems(props: { readonly id: string; readonly onChange: () => void }): ReactNode {
  const me = useMe();
  const loaded = useLoad<Campaign & { items: readonly Item[] }>(
    fill(E.accessReview[1], { id: props.id }),
  );
  const action = useAction();
  const [done, setDone] = useState<string | undefined>(undefined);
  const [acceptUnreviewed, setAcceptUnreviewed] = useState(false);
  const openCampaign = (): void => {
    void action.run(async () => {
      await api.post(fill(E.accessReviewOpen[1], { id: props.id }));
      setDone('Opened: the memberships in scope are listed for review.');
      loaded.reload();
      props.onChange();
    });
  };
  const closeCampaign = (): void => {
    void action.run(async () => {
      const r = await api.post<CloseResult>(fill(E.accessReviewClose[1], { id: props.id }), {
        acceptUnreviewed,
      });
      setDone(
        `Closed: ${String(r.kept)} kept, ${String(r.revoked)} revoked, ${String(r.unreviewed)} unreviewed.`,
      );
      loaded.reload();
      props.onChange();
    });
  };
  const decide = (item: Item, decision: 'keep' | 'revoke'): void => {
    void action.run(async () => {
      await api.post(fill(E.accessReviewDecide[1], { id: props.id, itemId: item.id }), {
        decision,
      });
      loaded.reload();
    });
  };
  return (
    <LoadState loaded={loaded} what="review items">
      {(c) => {
        const reviewer = c.reviewers.includes(me.userId);
        const decidable = reviewer && c.status === 'open';
        return (
          <div className="panel">
            <h2>{c.name}</h2>
            {reviewer ? null : (
              <p className="note empty">You are not a reviewer of this campaign.</p>
            )}
            {done === undefined ? null : <Success>{done}</Success>}
            {action.error === undefined ? null : (
              <ErrorNote error={action.error} action="Not done" />
            )}
            {serverReason(action.error) === 'unreviewed_items' ? (
              <p className="note warn">
                Some items are undecided: decide them, or close with undecided items.
              </p>
            ) : null}
            {c.status === 'draft' ? (
              <p className="actions">
                <button type="button" disabled={action.busy} onClick={openCampaign}>
                  Open {c.name}
                </button>
              </p>
            ) : null}
            {c.status === 'open' ? (
              <div className="actions">
                <label className="inline">
                  <input
                    type="checkbox"
                    checked={acceptUnreviewed}
                    onChange={(e) => {
                      setAcceptUnreviewed(e.target.checked);
                    }}
                  />
                  Close with undecided items (recorded as unreviewed and escalated)
                </label>
                <button type="button" disabled={action.busy} onClick={closeCampaign}>
                  Close {c.name}
                </button>
              </div>
            ) : null}
            {c.items.length === 0 ? (
              <Empty>
                {c.status === 'draft'
                  ? 'A draft: its items are listed when it is opened.'
                  : 'This campaign has no items.'}
              </Empty>
            ) : (
              <table>
                <caption>Memberships to attest</caption>
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Roles</th>
                    <th scope="col">Decision</th>
                    {decidable ? <th scope="col">Decide</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {c.items.map((i) => (
                    <tr key={i.id}>
                      <td>
                        <ShortId id={i.userId} />
                        {i.userId === me.userId ? ' (you)' : null}
                      </td>
                      <td>{i.roles.join(', ')}</td>
                      <td>
                        {i.decision === null ? (
                          <Badge tone="warn">undecided</Badge>
                        ) : (
                          <Badge tone={i.decision === 'keep' ? 'ok' : 'error'}>{i.decision}</Badge>
                        )}
                      </td>
                      {decidable ? (
                        <td className="actions">
                          {i.userId === me.userId ? (
                            'not your own'
                          ) : (
                            <>
                              <button
                                type="button"
                                disabled={action.busy}
                                onClick={() => {
                                  decide(i, 'keep');
                                }}
                              >
                                Keep
                              </button>
                              <button
                                type="button"
                                className="danger"
                                disabled={action.busy}
                                onClick={() => {
                                  decide(i, 'revoke');
                                }}
                              >
                                Revoke
                              </button>
                            </>
                          )}
                        </td>
                      ) : null}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        );
      }}
    </LoadState>
  );
}
