import { useEffect, useState, type ReactNode } from 'react';
import { ApiError, api } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { Badge, download, useAction, when } from '../../components/console.js';
import { Empty, ErrorNote, Loading } from '../../components/status.js';

interface Report {
  readonly runId: string;
  readonly generatedAt: string;
  readonly summary: { passed: number; failed: number };
  readonly controls: readonly {
    controlId: string;
    title: string;
    status: string;
    details: string;
    checkedAt: string;
  }[];
}

/** Control status: run the live checks, see pass/fail with details and time, export evidence. */
export function Controls(): ReactNode {
  const [report, setReport] = useState<Report | null | undefined>(undefined);
  const [loadError, setLoadError] = useState<unknown>(undefined);
  const action = useAction();
  useEffect(() => {
    api
      .get<Report>(E.controlsReport[1])
      .then(setReport)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) setReport(null);
        else setLoadError(err);
      });
  }, []);
  const run = (): void => {
    void action.run(async () => {
      setReport(await api.post<Report>(E.controlsRun[1]));
    });
  };
  return (
    <section>
      <h1>Controls</h1>
      <div className="actions">
        <button type="button" disabled={action.busy} onClick={run}>
          {action.busy ? 'Running checks…' : 'Run control checks'}
        </button>
        {report === undefined || report === null ? null : (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              download(
                `control-evidence-${report.generatedAt.slice(0, 10)}-${report.runId.slice(0, 8)}.json`,
                JSON.stringify(report, null, 2),
              );
            }}
          >
            Export evidence (JSON)
          </button>
        )}
      </div>
      {action.busy ? (
        <Loading label="Running every control check; this can take a moment…" />
      ) : null}
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Running the checks" />
      )}
      {loadError !== undefined ? (
        <ErrorNote error={loadError} action="Loading the control report" />
      ) : report === undefined ? (
        <Loading label="Loading the control report…" />
      ) : report === null ? (
        <Empty>No control run yet. Run the checks to record one.</Empty>
      ) : (
        <>
          <p role="status">
            Run of {when(report.generatedAt)}: <strong>{report.summary.passed} passed</strong>,{' '}
            <strong>{report.summary.failed} failed</strong>.
          </p>
          <table>
            <caption>Control results</caption>
            <thead>
              <tr>
                <th scope="col">Control</th>
                <th scope="col">Result</th>
                <th scope="col">Details</th>
                <th scope="col">Checked</th>
              </tr>
            </thead>
            <tbody>
              {report.controls.map((c) => (
                <tr key={c.controlId}>
                  <td>
                    <code>{c.controlId}</code> {c.title}
                  </td>
                  <td>
                    <Badge tone={c.status === 'pass' ? 'ok' : 'error'}>{c.status}</Badge>
                  </td>
                  <td>{c.details}</td>
                  <td>{when(c.checkedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
