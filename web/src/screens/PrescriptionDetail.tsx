import { useState, type ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { DeliveryTimeline, Finding, ReadyBody, Rx, Signed } from '../api/types.js';
import { useStepUp, withStepUp } from '../components/StepUp.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';
import { useMe } from '../session.js';
import { drugText, statusLabel } from './PatientSummary.js';
import { RxActions, RxLineage } from './RxActions.js';
import { PRINT_REQUIRED, PrintBanner } from './TransmissionFailed.js';
import type { ScreenProps } from './registry.js';

/** Findings above `info` need an override reason before the prescription can be marked ready. */
function needsReason(f: Finding): boolean {
  return f.severity !== 'info';
}

/**
 * One prescription: every element, the safety findings with override reasons, mark ready, sign
 * (non-controlled, with a step-up; controlled ones go to the EPCS screen), cancel, renew and
 * change (RxActions.tsx), the delivery timeline, and the print path of a failed transmission.
 */
export function PrescriptionDetail(props: ScreenProps): ReactNode {
  const id = props.params.id ?? '';
  // Keyed by id: a renewal or change opens another prescription with none of this one's state.
  return <PrescriptionPage key={id} id={id} />;
}

function PrescriptionPage(props: { readonly id: string }): ReactNode {
  const { id } = props;
  const me = useMe();
  const rx = useLoad((signal) => api.get<Rx>(fill(ENDPOINTS.rx[1], { id }), { signal }), [id]);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const stepUp = useStepUp('Signing a prescription needs a fresh second factor.');

  if (rx.data === undefined) {
    return rx.error === undefined ? (
      <Loading label="Loading the prescription…" />
    ) : (
      <ErrorNote error={rx.error} action="Could not load the prescription" />
    );
  }
  const p = rx.data;
  const findings = p.findings ?? [];
  const controlled = p.deaSchedule !== null;
  const canSign = me.permissions.includes('rx.sign');
  const editable = p.status === 'draft' || p.status === 'ready';

  const run = async (label: string, fn: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const r = await fn();
      if (r !== undefined) setDone(label);
      rx.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const checkSafety = (): Promise<void> =>
    run('Safety checks ran again.', () => api.get(fill(ENDPOINTS.rxSafety[1], { id })));
  const markReady = (): Promise<void> => {
    const overrides = findings
      .filter(needsReason)
      .map((f) => ({ key: f.key, reason: (reasons[f.key] ?? f.overrideReason ?? '').trim() }))
      .filter((o) => o.reason !== '');
    const body: ReadyBody = overrides.length === 0 ? {} : { overrides };
    return run('Marked ready to sign.', () =>
      api.post<Rx>(fill(ENDPOINTS.rxReady[1], { id }), body),
    );
  };
  const sign = (): Promise<void> =>
    run('Signed and queued for the pharmacy.', () =>
      withStepUp(() => api.post<Signed>(fill(ENDPOINTS.rxSign[1], { id })), stepUp.ask),
    );

  return (
    <>
      {p.status === 'error' && p.errorCode === PRINT_REQUIRED ? (
        <PrintBanner
          id={id}
          canPrint={canSign && p.prescriberId === me.userId}
          onPrinted={rx.reload}
        />
      ) : null}
      <section aria-labelledby="rx-heading">
        <h1 id="rx-heading">{drugText(p.drugName, p.strength)}</h1>
        <p>
          <span className="badge">{statusLabel(p.status)}</span>{' '}
          {controlled ? <span className="badge cs">Schedule {p.deaSchedule}</span> : null}{' '}
          <Link to={`/patients/${p.patientId}`}>Patient summary</Link>
        </p>
        <dl className="facts">
          {p.quantity === undefined ? null : (
            <>
              <dt>Quantity</dt>
              <dd>
                {p.quantity.value} {p.quantity.unit}
              </dd>
            </>
          )}
          {p.daysSupply === undefined ? null : (
            <>
              <dt>Days supply</dt>
              <dd>{p.daysSupply}</dd>
            </>
          )}
          {p.sig === undefined ? null : (
            <>
              <dt>Directions</dt>
              <dd>{p.sig}</dd>
            </>
          )}
          {p.refills === undefined ? null : (
            <>
              <dt>Refills</dt>
              <dd>{p.refills}</dd>
            </>
          )}
          {p.substitutionAllowed === undefined ? null : (
            <>
              <dt>Substitution</dt>
              <dd>{p.substitutionAllowed ? 'Allowed' : 'Dispense as written'}</dd>
            </>
          )}
          {p.pharmacyNcpdpId === undefined ? null : (
            <>
              <dt>Pharmacy (NCPDP)</dt>
              <dd>{p.pharmacyNcpdpId}</dd>
            </>
          )}
          <RxLineage rx={p} />
          <dt>Created</dt>
          <dd>{new Date(p.createdAt).toLocaleString()}</dd>
          {p.signedAt === null ? null : (
            <>
              <dt>Signed</dt>
              <dd>{new Date(p.signedAt).toLocaleString()}</dd>
            </>
          )}
          {p.errorCode === null || p.errorCode === undefined ? null : (
            <>
              <dt>Delivery error</dt>
              <dd>{p.errorCode}</dd>
            </>
          )}
        </dl>
      </section>

      <section aria-labelledby="safety-heading">
        <h2 id="safety-heading">Safety checks</h2>
        {findings.length === 0 ? (
          <Empty>No warnings.</Empty>
        ) : (
          <ul>
            {findings.map((f) => (
              <li key={f.key} className={`note ${needsReason(f) ? 'warn' : ''}`}>
                <p>
                  <strong>{f.severity}</strong> — {f.message}
                </p>
                {needsReason(f) && editable && canSign ? (
                  <label>
                    Override reason
                    <input
                      value={reasons[f.key] ?? f.overrideReason ?? ''}
                      onChange={(e) => {
                        setReasons({ ...reasons, [f.key]: e.target.value });
                      }}
                    />
                  </label>
                ) : f.overrideReason === undefined ? null : (
                  <p>Overridden: {f.overrideReason}</p>
                )}
              </li>
            ))}
          </ul>
        )}
        {editable && me.permissions.includes('rx.draft') ? (
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              void checkSafety();
            }}
          >
            Run safety checks again
          </button>
        ) : null}
      </section>

      {canSign && editable ? (
        <section aria-labelledby="sign-heading">
          <h2 id="sign-heading">Review and sign</h2>
          <div className="actions">
            {p.status === 'draft' ? (
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  void markReady();
                }}
              >
                Mark ready to sign
              </button>
            ) : null}
            {p.status === 'ready' && !controlled ? (
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  void sign();
                }}
              >
                Sign
              </button>
            ) : null}
            {controlled ? (
              <Link to={`/patients/${p.patientId}/epcs`}>Open the EPCS signing screen</Link>
            ) : null}
          </div>
        </section>
      ) : null}
      {done === undefined ? null : (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not done" />}
      {stepUp.dialog}
      <RxActions rx={p} onChanged={rx.reload} />
      <Timeline id={id} status={p.status} />
    </>
  );
}

/** The delivery timeline: queued, sent, acknowledged, dispensed, error, cancel… */
function Timeline(props: { readonly id: string; readonly status: string }): ReactNode {
  const t = useLoad(
    (signal) =>
      api.get<DeliveryTimeline>(fill(ENDPOINTS.rxDelivery[1], { id: props.id }), { signal }),
    // The status in the key: a change (signed, cancelled) reloads the timeline.
    [props.id, props.status],
  );
  const events = t.data?.events ?? [];
  return (
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Delivery timeline</h2>
      {t.loading && t.data === undefined ? <Loading /> : null}
      {t.error === undefined ? null : <ErrorNote error={t.error} />}
      {t.data === undefined ? null : events.length === 0 ? (
        <Empty>Nothing sent yet.</Empty>
      ) : (
        <ol className="timeline" aria-label="Delivery events, oldest first">
          {events.map((e, i) => (
            <li key={`${e.at}-${String(i)}`}>
              <strong>{statusLabel(e.event)}</strong> — {new Date(e.at).toLocaleString()}
              {e.code === null ? '' : ` (code ${e.code})`}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
