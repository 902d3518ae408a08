import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import {
  NO_NOTICE,
  NoticeFields,
  PhiTypeFields,
  noticeBody,
  type NoticeContent,
} from './BreachNoticeFields.js';
import type { Assessment, Breach } from './IncidentBreach.js';

/**
 * The four-factor breach risk assessment of 45 CFR 164.402(2) (POST …/breach/assessments): each
 * factor rated with its rationale, the decision (a breach is presumed unless an exception of
 * 164.402(1) applies or the factors show a low probability of compromise), and the facts the
 * server's breach clock needs (discovery date, role, affected individuals by State). The server
 * checks everything again (src/compliance/breach-assessment.ts) and answers with the clock.
 */

const FACTORS = [
  [
    'natureAndExtent',
    '164.402(2)(i) Nature and extent of the PHI (identifiers, re-identification)',
  ],
  ['unauthorizedPerson', '164.402(2)(ii) The unauthorized person who used or received it'],
  ['acquiredOrViewed', '164.402(2)(iii) Whether the PHI was actually acquired or viewed'],
  ['mitigation', '164.402(2)(iv) The extent to which the risk has been mitigated'],
] as const;
type FactorKey = (typeof FACTORS)[number][0];
const RATINGS = ['low', 'moderate', 'high'] as const;
const DECISIONS = [
  ['breach', 'Breach: notification required'],
  ['low_probability', 'Low probability of compromise: no notification'],
  ['not_breach', 'Not a breach: an exception applies'],
] as const;
const EXCEPTIONS = [
  ['unintentional_workforce', '164.402(1)(i) Unintentional access by the workforce in good faith'],
  ['inadvertent_authorized', '164.402(1)(ii) Inadvertent disclosure between authorized persons'],
  ['unable_to_retain', '164.402(1)(iii) The recipient could not reasonably have retained it'],
  ['secured_phi', 'The PHI was secured (encrypted per the HHS guidance)'],
] as const;

interface Factor {
  rating: string;
  rationale: string;
}

/** "CA 12, NY 3, unknown 4" as counts by State; a message when an entry is not understood. */
export function parseAffected(text: string): Record<string, number> | string {
  const out: Record<string, number> = {};
  for (const part of text.split(/[,;\n]/)) {
    const p = part.trim();
    if (p === '') continue;
    const m = /^([A-Za-z]{2}|unknown)\s*[:=]?\s*(\d{1,9})$/.exec(p);
    if (m === null) return `"${p.slice(0, 20)}" is not a State code and a count (e.g. CA 12)`;
    const key = m[1] === 'unknown' ? 'unknown' : (m[1] ?? '').toUpperCase();
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The form starts from the current assessment when there is one (a revision). */
export function BreachAssessmentForm(props: {
  readonly incidentId: string;
  readonly current: Assessment | null;
  readonly onDone: (view: Breach) => void;
}): ReactNode {
  const today = new Date().toISOString().slice(0, 10); // the server's day is UTC
  const cur = props.current;
  const [factors, setFactors] = useState<Record<FactorKey, Factor>>(() => {
    const f = (k: FactorKey): Factor => ({
      rating: cur?.factors[k]?.rating ?? '',
      rationale: cur?.factors[k]?.rationale ?? '',
    });
    return {
      natureAndExtent: f('natureAndExtent'),
      unauthorizedPerson: f('unauthorizedPerson'),
      acquiredOrViewed: f('acquiredOrViewed'),
      mitigation: f('mitigation'),
    };
  });
  const [decision, setDecision] = useState(cur?.decision ?? '');
  const [exception, setException] = useState(cur?.exception ?? '');
  const [rationale, setRationale] = useState(cur?.rationale ?? '');
  const [role, setRole] = useState(cur?.role ?? 'covered_entity');
  const [discoveredOn, setDiscoveredOn] = useState(cur?.discoveredOn ?? today);
  const [occurredFrom, setOccurredFrom] = useState(cur?.occurredFrom ?? '');
  const [occurredTo, setOccurredTo] = useState(cur?.occurredTo ?? '');
  const [affected, setAffected] = useState(
    Object.entries(cur?.affectedByJurisdiction ?? {})
      .map(([j, n]) => `${j} ${String(n)}`)
      .join(', '),
  );
  const [phiTypes, setPhiTypes] = useState<readonly string[]>(cur?.phiTypes ?? []);
  const [notice, setNotice] = useState<NoticeContent>(cur?.notice ?? NO_NOTICE);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const action = useAction();

  const setFactor = (key: FactorKey, change: Partial<Factor>): void => {
    setFactors((f) => ({ ...f, [key]: { ...f[key], ...change } }));
  };

  /** The checks the server makes too, said before the round trip. */
  const check = (): string | undefined => {
    if (decision === 'low_probability' && FACTORS.some(([k]) => factors[k].rating === 'high')) {
      return 'A factor rated high does not support a low probability of compromise.';
    }
    if (decision === 'not_breach' && exception === '') return 'Name the exception that applies.';
    if (discoveredOn > today) return 'The discovery date cannot be in the future.';
    if (occurredTo !== '' && (occurredFrom === '' || occurredTo < occurredFrom)) {
      return 'The end of the breach needs an earlier or equal start.';
    }
    if (occurredFrom !== '' && occurredFrom > discoveredOn) {
      return 'A breach cannot be discovered before it occurred.';
    }
    const counts = parseAffected(affected);
    return typeof counts === 'string' ? counts : undefined;
  };

  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const wrong = check();
    setProblem(wrong);
    if (wrong !== undefined) return;
    const counts = parseAffected(affected);
    void action.run(async () => {
      const view = await api.post<Breach>(fill(E.incidentAssess[1], { id: props.incidentId }), {
        baseVersion: cur?.version ?? 0,
        factors: Object.fromEntries(
          FACTORS.map(([k]) => [
            k,
            { rating: factors[k].rating, rationale: factors[k].rationale.trim() },
          ]),
        ),
        decision,
        exception: decision === 'not_breach' ? exception : null,
        rationale: rationale.trim(),
        role,
        discoveredOn,
        occurredFrom: occurredFrom === '' ? null : occurredFrom,
        occurredTo: occurredTo === '' ? null : occurredTo,
        affectedByJurisdiction: typeof counts === 'string' ? {} : counts,
        phiTypes,
        notice: noticeBody(notice),
      });
      props.onDone(view);
    });
  };

  return (
    <form onSubmit={submit} aria-label="Breach risk assessment">
      {FACTORS.map(([key, label]) => (
        <fieldset key={key}>
          <legend>{label}</legend>
          <label>
            Risk of compromise
            <select
              required
              value={factors[key].rating}
              onChange={(e) => {
                setFactor(key, { rating: e.target.value });
              }}
            >
              <option value="">Choose…</option>
              {RATINGS.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Rationale
            <textarea
              required
              maxLength={4000}
              value={factors[key].rationale}
              onChange={(e) => {
                setFactor(key, { rationale: e.target.value });
              }}
            />
          </label>
        </fieldset>
      ))}
      <label>
        Conclusion
        <select
          required
          value={decision}
          onChange={(e) => {
            setDecision(e.target.value);
          }}
        >
          <option value="">Choose…</option>
          {DECISIONS.map(([d, text]) => (
            <option key={d} value={d}>
              {text}
            </option>
          ))}
        </select>
      </label>
      {decision === 'not_breach' ? (
        <label>
          Exception
          <select
            required
            value={exception}
            onChange={(e) => {
              setException(e.target.value);
            }}
          >
            <option value="">Choose…</option>
            {EXCEPTIONS.map(([x, text]) => (
              <option key={x} value={x}>
                {text}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        Reasoning for the conclusion (no patient details)
        <textarea
          required
          maxLength={4000}
          value={rationale}
          onChange={(e) => {
            setRationale(e.target.value);
          }}
        />
      </label>
      <label>
        Our role
        <select
          value={role}
          onChange={(e) => {
            setRole(e.target.value);
          }}
        >
          <option value="covered_entity">covered entity</option>
          <option value="business_associate">business associate</option>
        </select>
      </label>
      <label>
        Discovered on (UTC date)
        <input
          type="date"
          required
          max={today}
          value={discoveredOn}
          onChange={(e) => {
            setDiscoveredOn(e.target.value);
          }}
        />
      </label>
      <label>
        Breach began on (if known)
        <input
          type="date"
          max={discoveredOn}
          value={occurredFrom}
          onChange={(e) => {
            setOccurredFrom(e.target.value);
          }}
        />
      </label>
      <label>
        Breach ended on (if known)
        <input
          type="date"
          min={occurredFrom}
          value={occurredTo}
          onChange={(e) => {
            setOccurredTo(e.target.value);
          }}
        />
      </label>
      <label>
        Affected individuals by State (e.g. CA 12, NY 3, unknown 4)
        <input
          value={affected}
          onChange={(e) => {
            setAffected(e.target.value);
          }}
        />
      </label>
      <PhiTypeFields value={phiTypes} onChange={setPhiTypes} />
      {decision === 'breach' && role === 'covered_entity' ? (
        <NoticeFields value={notice} onChange={setNotice} />
      ) : null}
      <button type="submit" disabled={action.busy}>
        {action.busy ? 'Recording…' : 'Record assessment'}
      </button>
      {problem === undefined ? null : (
        <p className="note error" role="alert">
          {problem}
        </p>
      )}
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Recording the assessment" />
      )}
    </form>
  );
}
