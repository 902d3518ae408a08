import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { LoadState, ShortId, useAction, useLoad, when } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';

interface Session {
  readonly id: string;
  readonly userId: string;
  readonly patientId: string;
  readonly category: string;
  readonly reason: string;
  readonly writeAllowed: boolean;
  readonly startedAt: string;
  readonly expiresAt: string;
  readonly endedAt: string | null;
  readonly active: boolean;
  readonly reviewStatus: string;
  readonly reviewOutcome: string | null;
  readonly reviewNotes: string | null;
}

/** The post-hoc break-glass review queue: someone else closes each review with notes. */
export function BreakGlassReviews(): ReactNode {
  const me = useMe();
  const [status, setStatus] = useState<'open' | 'closed'>('open');
  const loaded = useLoad<{ sessions: readonly Session[] }>(
    `${E.breakGlassReviews[1]}?status=${status}`,
  );
  return (
    <section>
      <h1>Break-glass reviews</h1>
      <label className="inline-field">
        Show
        <select
          value={status}
          onChange={(e) => {
            setStatus(e.target.value === 'closed' ? 'closed' : 'open');
          }}
        >
          <option value="open">Open reviews</option>
          <option value="closed">Closed reviews</option>
        </select>
      </label>
      <LoadState loaded={loaded} what="break-glass reviews">
        {(d) =>
          d.sessions.length === 0 ? (
            <Empty>No {status} break-glass reviews.</Empty>
          ) : (
            <ul className="cards">
              {d.sessions.map((s) => (
                <li key={s.id} className="card">
                  <h2>
                    {s.category} access by <ShortId id={s.userId} />
                  </h2>
                  <dl className="facts">
                    <dt>Started</dt>
                    <dd>{when(s.startedAt)}</dd>
                    <dt>Ended</dt>
                    <dd>{s.active ? 'still active' : when(s.endedAt ?? s.expiresAt)}</dd>
                    <dt>Patient</dt>
                    <dd>
                      <ShortId id={s.patientId} />
                    </dd>
                    <dt>Writes</dt>
                    <dd>{s.writeAllowed ? 'allowed' : 'read only'}</dd>
                    <dt>Reason given</dt>
                    <dd>{s.reason}</dd>
                    {s.reviewOutcome === null ? null : (
                      <>
                        <dt>Outcome</dt>
                        <dd>
                          {s.reviewOutcome}: {s.reviewNotes}
                        </dd>
                      </>
                    )}
                  </dl>
                  {status === 'open' ? (
                    s.userId === me.userId ? (
                      <p className="note warn">
                        This is your own session: someone else reviews it.
                      </p>
                    ) : s.active ? (
                      <p className="note empty">Reviewable once the session has ended.</p>
                    ) : (
                      <ReviewForm session={s} onDone={loaded.reload} />
                    )
                  ) : null}
                </li>
              ))}
            </ul>
          )
        }
      </LoadState>
    </section>
  );
}

function ReviewForm(props: { readonly session: Session; readonly onDone: () => void }): ReactNode {
  const [outcome, setOutcome] = useState<'justified' | 'unjustified'>('justified');
  const [notes, setNotes] = useState('');
  const action = useAction();
  const id = props.session.id;
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(fill(E.breakGlassReview[1], { id }), { outcome, notes: notes.trim() });
      props.onDone();
    });
  };
  return (
    <form onSubmit={submit} aria-label="Close the review">
      <fieldset>
        <legend>Outcome</legend>
        <label className="inline">
          <input
            type="radio"
            name={`outcome-${id}`}
            checked={outcome === 'justified'}
            onChange={() => {
              setOutcome('justified');
            }}
          />
          Justified
        </label>
        <label className="inline">
          <input
            type="radio"
            name={`outcome-${id}`}
            checked={outcome === 'unjustified'}
            onChange={() => {
              setOutcome('unjustified');
            }}
          />
          Unjustified
        </label>
      </fieldset>
      <label>
        Review notes
        <textarea
          required
          maxLength={2000}
          value={notes}
          onChange={(e) => {
            setNotes(e.target.value);
          }}
        />
      </label>
      <button type="submit" disabled={action.busy || notes.trim() === ''}>
        Close review
      </button>
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Closing the review" />
      )}
    </form>
  );
}
