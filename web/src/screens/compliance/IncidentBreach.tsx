import { useEffect, useState, type ReactNode } from 'react';
import { fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, LoadState, Success, can, useLoad, when } from '../../components/console.js';
import { useMe } from '../../session.js';
import { BreachAssessmentForm } from './BreachAssessmentForm.js';
import { NoticeLetter, type NoticeContent } from './BreachNoticeFields.js';

/**
 * An incident's breach side (45 CFR 164.402-164.410): the current four-factor assessment and its
 * conclusion, the notification deadlines the server computes from it (counted down live), the
 * earlier versions, and, for compliance.manage, the assessment form.
 */

interface Deadline {
  readonly recipient: string;
  readonly jurisdiction: string | null;
  readonly dueOn: string;
  readonly citation: string;
  readonly daysLeft: number;
  readonly state: string;
  readonly sentOn: string | null;
}
export interface Assessment {
  readonly version: number;
  readonly factors: Readonly<Record<string, { rating: string; rationale: string }>>;
  readonly decision: string;
  readonly exception: string | null;
  readonly rationale: string;
  readonly role: string;
  readonly discoveredOn: string;
  readonly occurredFrom: string | null;
  readonly occurredTo: string | null;
  readonly affectedByJurisdiction: Readonly<Record<string, number>>;
  readonly phiTypes: readonly string[];
  readonly notice: NoticeContent | null;
  readonly affectedTotal: number;
  readonly assessedAt: string;
}
export interface Breach {
  readonly assessment: Assessment | null;
  readonly deadlines: readonly Deadline[];
  readonly missingNoticeElements: readonly string[];
}

const DETERMINATION: Readonly<Record<string, string>> = {
  breach: 'Breach: notification required',
  low_probability: 'Low probability of compromise: no notification required',
  not_breach: 'Not a breach (exception): no notification required',
};

function determination(a: Assessment): string {
  const d = DETERMINATION[a.decision] ?? a.decision;
  return a.exception === null ? d : `${d} (${a.exception.replace(/_/g, ' ')})`;
}

export function IncidentBreach(props: { readonly id: string }): ReactNode {
  const me = useMe();
  const loaded = useLoad<Breach>(fill(E.incidentBreach[1], { id: props.id }));
  const history = useLoad<{ assessments: readonly Assessment[] }>(
    fill(E.incidentAssessments[1], { id: props.id }),
  );
  const [done, setDone] = useState<Breach | undefined>(undefined);
  const [formOpen, setFormOpen] = useState(false);
  return (
    <LoadState loaded={loaded} what="the breach assessment">
      {(b) => (
        <>
          {b.assessment === null ? (
            <p className="note empty">No breach assessment yet: no notification deadlines.</p>
          ) : (
            <dl className="facts">
              <div>
                <dt>Determination</dt>
                <dd>
                  <Badge tone={b.assessment.decision === 'breach' ? 'error' : 'ok'}>
                    {determination(b.assessment)}
                  </Badge>
                </dd>
              </div>
              <div>
                <dt>Conclusion</dt>
                <dd>{b.assessment.rationale}</dd>
              </div>
              <div>
                <dt>Assessment</dt>
                <dd>
                  version {b.assessment.version}, {when(b.assessment.assessedAt)}; discovered{' '}
                  {b.assessment.discoveredOn}; {b.assessment.affectedTotal} individuals affected; as{' '}
                  {b.assessment.role.replace(/_/g, ' ')}
                </dd>
              </div>
            </dl>
          )}
          {b.assessment !== null && b.deadlines.length === 0 ? (
            <p className="note empty">No notification deadlines.</p>
          ) : null}
          {b.deadlines.length === 0 ? null : <BreachClock deadlines={b.deadlines} />}
          {b.missingNoticeElements.length === 0 ? null : (
            <p className="note warn">
              The individual notice still lacks: {b.missingNoticeElements.join(', ')}.
            </p>
          )}
          {b.assessment?.decision === 'breach' &&
          b.assessment.role === 'covered_entity' &&
          b.missingNoticeElements.length === 0 ? (
            <NoticeLetter key={b.assessment.version} incidentId={props.id} />
          ) : null}
          {done === undefined || done.assessment === null ? null : (
            <Success>
              Assessment version {done.assessment.version} recorded:{' '}
              {determination(done.assessment)}
              {done.deadlines.length === 0
                ? '.'
                : `; ${String(done.deadlines.length)} notification deadline(s), the first due ${done.deadlines[0]?.dueOn ?? ''}.`}
            </Success>
          )}
          <LoadState loaded={history} what="earlier assessments">
            {(h) =>
              h.assessments.length < 2 ? null : (
                <details>
                  <summary>Earlier assessments ({h.assessments.length - 1})</summary>
                  <ul>
                    {h.assessments.slice(0, -1).map((a) => (
                      <li key={a.version}>
                        version {a.version}, {when(a.assessedAt)}: {determination(a)}
                      </li>
                    ))}
                  </ul>
                </details>
              )
            }
          </LoadState>
          {can(me, 'compliance.manage') ? (
            <details
              className="panel"
              open={formOpen}
              onToggle={(e) => {
                setFormOpen(e.currentTarget.open);
              }}
            >
              <summary>
                {b.assessment === null ? 'Assess breach risk' : 'Revise the breach assessment'}
              </summary>
              {formOpen ? (
                <BreachAssessmentForm
                  incidentId={props.id}
                  current={b.assessment}
                  onDone={(view) => {
                    setDone(view);
                    setFormOpen(false);
                    loaded.reload();
                    history.reload();
                  }}
                />
              ) : null}
            </details>
          ) : null}
        </>
      )}
    </LoadState>
  );
}

/** Milliseconds until the end of a due day (UTC); negative once passed. */
function msLeft(dueOn: string, now: number): number {
  return Date.parse(`${dueOn}T23:59:59.999Z`) - now;
}

function countdown(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${String(d)}d ${pad(h)}:${pad(m)}:${pad(sec)}`;
}

function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => {
      setNow(Date.now());
    }, 1000);
    return () => {
      clearInterval(t);
    };
  }, []);
  return now;
}

function BreachClock(props: { readonly deadlines: readonly Deadline[] }): ReactNode {
  const now = useNow();
  return (
    <table className="breach-clock">
      <caption>Breach notification deadlines</caption>
      <thead>
        <tr>
          <th scope="col">Notify</th>
          <th scope="col">Due by (end of day, UTC)</th>
          <th scope="col">Time left</th>
          <th scope="col">State</th>
          <th scope="col">Citation</th>
        </tr>
      </thead>
      <tbody>
        {props.deadlines.map((d) => {
          const ms = msLeft(d.dueOn, now);
          const done = d.state === 'met' || d.state === 'met_late';
          return (
            <tr key={`${d.recipient}:${d.jurisdiction ?? ''}`}>
              <td>
                {d.recipient}
                {d.jurisdiction === null ? null : ` (${d.jurisdiction})`}
              </td>
              <td>{d.dueOn}</td>
              <td>
                {done ? (
                  `sent ${d.sentOn ?? ''}`
                ) : (
                  <span className={ms < 0 ? 'overdue' : undefined}>
                    {ms < 0 ? 'overdue by ' : ''}
                    <time>{countdown(ms)}</time>
                  </span>
                )}
              </td>
              <td>
                <Badge tone={d.state === 'met' ? 'ok' : d.state === 'pending' ? 'warn' : 'error'}>
                  {d.state.replace(/_/g, ' ')}
                </Badge>
              </td>
              <td>{d.citation}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
