import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { LoadState, can, useAction, useLoad } from '../../components/console.js';
import { Empty, ErrorNote } from '../../components/status.js';
import { useMe } from '../../session.js';
import { AssetPicker } from './AssetPicker.js';

interface Risk {
  readonly riskId: string;
  readonly version: number;
  readonly title: string;
  readonly likelihood: number;
  readonly impact: number;
  readonly inherentScore: number;
  readonly residualScore: number;
  readonly treatment: string;
  readonly status: string;
  readonly dueDate: string | null;
}
interface Report {
  readonly asOf: string;
  readonly totals: { risks: number; active: number; overdue: number };
  readonly heatMap: { inherent: number[][]; residual: number[][] };
}

const LEVELS = [1, 2, 3, 4, 5] as const;

/** The risk register and its 5x5 heat maps (a table of counts; color only repeats the count). */
export function Risks(): ReactNode {
  const me = useMe();
  const report = useLoad<Report>(E.riskReport[1]);
  const risks = useLoad<{ risks: readonly Risk[] }>(E.risks[1]);
  return (
    <section>
      <h1>Risk register</h1>
      {can(me, 'compliance.manage') ? (
        <NewRisk
          ownerId={me.userId}
          onDone={() => {
            report.reload();
            risks.reload();
          }}
        />
      ) : null}
      <LoadState loaded={report} what="the risk report">
        {(r) => (
          <>
            <p>
              {r.totals.risks} risks, {r.totals.active} active, {r.totals.overdue} overdue (as of{' '}
              {r.asOf}).
            </p>
            <div className="heat-maps">
              <HeatMap
                caption="Inherent risk: active risks by likelihood and impact"
                map={r.heatMap.inherent}
              />
              <HeatMap
                caption="Residual risk: active risks by likelihood and impact"
                map={r.heatMap.residual}
              />
            </div>
          </>
        )}
      </LoadState>
      <LoadState loaded={risks} what="risks">
        {(d) =>
          d.risks.length === 0 ? (
            <Empty>No risks recorded yet.</Empty>
          ) : (
            <table>
              <caption>Risks (current versions)</caption>
              <thead>
                <tr>
                  <th scope="col">Risk</th>
                  <th scope="col">Likelihood</th>
                  <th scope="col">Impact</th>
                  <th scope="col">Inherent</th>
                  <th scope="col">Residual</th>
                  <th scope="col">Treatment</th>
                  <th scope="col">Status</th>
                  <th scope="col">Due</th>
                </tr>
              </thead>
              <tbody>
                {d.risks.map((k) => (
                  <tr key={k.riskId}>
                    <td>{k.title}</td>
                    <td>{k.likelihood}</td>
                    <td>{k.impact}</td>
                    <td>{k.inherentScore}</td>
                    <td>{k.residualScore}</td>
                    <td>{k.treatment}</td>
                    <td>{k.status.replace(/_/g, ' ')}</td>
                    <td>{k.dueDate ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
    </section>
  );
}

function band(likelihood: number, impact: number): string {
  const score = likelihood * impact;
  return score >= 15 ? 'high' : score >= 8 ? 'medium' : 'low';
}

/** map[likelihood-1][impact-1] = count; likelihood 5 on top, impact 1 to 5 left to right. */
function HeatMap(props: { readonly caption: string; readonly map: number[][] }): ReactNode {
  return (
    <table className="heat-map">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Likelihood \ Impact</th>
          {LEVELS.map((i) => (
            <th scope="col" key={i}>
              Impact {i}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {[...LEVELS].reverse().map((l) => (
          <tr key={l}>
            <th scope="row">Likelihood {l}</th>
            {LEVELS.map((i) => {
              const n = props.map[l - 1]?.[i - 1] ?? 0;
              return (
                <td key={i} className={`heat heat-${band(l, i)}${n === 0 ? ' heat-none' : ''}`}>
                  {n}
                  <span className="visually-hidden"> ({band(l, i)} band)</span>
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Level(props: {
  readonly label: string;
  readonly value: number;
  readonly onChange: (n: number) => void;
}): ReactNode {
  return (
    <label>
      {props.label}
      <select
        value={props.value}
        onChange={(e) => {
          props.onChange(Number(e.target.value));
        }}
      >
        {LEVELS.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}

function NewRisk(props: { readonly ownerId: string; readonly onDone: () => void }): ReactNode {
  const [title, setTitle] = useState('');
  const [assets, setAssets] = useState<readonly string[]>([]);
  const [threat, setThreat] = useState('');
  const [vulnerability, setVulnerability] = useState('');
  const [likelihood, setLikelihood] = useState(3);
  const [impact, setImpact] = useState(3);
  const [residualLikelihood, setResidualLikelihood] = useState(2);
  const [residualImpact, setResidualImpact] = useState(2);
  const [treatment, setTreatment] = useState('mitigate');
  const [dueDate, setDueDate] = useState('');
  const action = useAction();
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    void action.run(async () => {
      await api.post(E.riskCreate[1], {
        title: title.trim(),
        assetRefs: assets,
        threat: threat.trim(),
        vulnerability: vulnerability.trim(),
        likelihood,
        impact,
        residualLikelihood,
        residualImpact,
        ownerId: props.ownerId,
        treatment,
        controlIds: [],
        acceptanceCriteria: '',
        dueDate: dueDate === '' ? null : dueDate,
        status: treatment === 'accept' ? 'accepted' : 'in_treatment',
      });
      setTitle('');
      setThreat('');
      setVulnerability('');
      setAssets([]);
      props.onDone();
    });
  };
  return (
    <details className="panel">
      <summary>Record a risk</summary>
      <form onSubmit={submit}>
        <label>
          Risk title
          <input
            required
            maxLength={200}
            value={title}
            onChange={(e) => {
              setTitle(e.target.value);
            }}
          />
        </label>
        <AssetPicker value={assets} onChange={setAssets} />
        <label>
          Threat
          <textarea
            required
            maxLength={2000}
            value={threat}
            onChange={(e) => {
              setThreat(e.target.value);
            }}
          />
        </label>
        <label>
          Vulnerability
          <textarea
            required
            maxLength={2000}
            value={vulnerability}
            onChange={(e) => {
              setVulnerability(e.target.value);
            }}
          />
        </label>
        <div className="actions">
          <Level label="Likelihood" value={likelihood} onChange={setLikelihood} />
          <Level label="Impact" value={impact} onChange={setImpact} />
          <Level
            label="Residual likelihood"
            value={residualLikelihood}
            onChange={setResidualLikelihood}
          />
          <Level label="Residual impact" value={residualImpact} onChange={setResidualImpact} />
        </div>
        <label>
          Treatment
          <select
            value={treatment}
            onChange={(e) => {
              setTreatment(e.target.value);
            }}
          >
            <option value="mitigate">mitigate</option>
            <option value="accept">accept</option>
            <option value="transfer">transfer</option>
            <option value="avoid">avoid</option>
          </select>
        </label>
        <label>
          Treatment due
          <input
            type="date"
            value={dueDate}
            onChange={(e) => {
              setDueDate(e.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Record risk
        </button>
        {action.error === undefined ? null : (
          <ErrorNote error={action.error} action="Recording the risk" />
        )}
      </form>
    </details>
  );
}
