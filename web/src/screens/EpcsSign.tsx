import { useState, type ReactNode } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { EpcsReview, Signed } from '../api/types.js';
import { StepUpDialog } from '../components/StepUp.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useLoad } from '../components/useLoad.js';
import { Link } from '../router.js';
import { drugText } from './PatientSummary.js';
import { defaultDeaNumber } from './epcs-dea.js';
import type { ScreenProps } from './registry.js';

/** The step-up action that completes EPCS two-factor signing (21 CFR 1311.140(a)(3)). */
const EPCS_ACTION = 'rx.sign.controlled';

/**
 * EPCS review and sign (21 CFR 1311.140): one patient's controlled-substance prescriptions
 * awaiting signature with every required element, the attestation statement, the prescriber's
 * choice of what to sign, then the two-factor step (a TOTP code bound to `rx.sign.controlled`,
 * given after the review) that signs them.
 */
export function EpcsSign(props: ScreenProps): ReactNode {
  const patientId = props.params.id ?? '';
  const review = useLoad(
    (signal) => api.get<EpcsReview>(fill(ENDPOINTS.epcsReview[1], { patientId }), { signal }),
    [patientId],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [attested, setAttested] = useState(false);
  const [deaNumber, setDeaNumber] = useState('');
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [signed, setSigned] = useState<Signed[] | undefined>(undefined);

  if (review.data === undefined) {
    return review.error === undefined ? (
      <Loading label="Loading the controlled prescriptions…" />
    ) : (
      <ErrorNote error={review.error} action="Could not load the EPCS review" />
    );
  }
  const r = review.data;
  const ready = r.items.filter((i) => i.status === 'ready');
  const dea = deaNumber === '' ? defaultDeaNumber(r.items, selected, r.deaNumbers) : deaNumber;

  const sign = async (): Promise<void> => {
    setAsking(false);
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.post<{ signed: Signed[] }>(
        fill(ENDPOINTS.epcsSign[1], { patientId }),
        { prescriptionIds: [...selected], ...(dea === '' ? {} : { deaNumber: dea }) },
      );
      setSigned(answer.signed);
      setSelected(new Set());
      setAttested(false);
      review.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="epcs-heading">
      <h1 id="epcs-heading">Sign controlled substance prescriptions</h1>
      <p>
        <Link to={`/patients/${patientId}`}>Back to the patient</Link>
      </p>
      {signed === undefined ? null : (
        <div className="note ok" role="status">
          <p>
            Signed {signed.length} prescription{signed.length === 1 ? '' : 's'}; queued for the
            pharmacy.
          </p>
          <ul>
            {signed.map((s) => (
              <li key={s.prescription.id}>
                <Link to={`/prescriptions/${s.prescription.id}`}>
                  {drugText(s.prescription.drugName, s.prescription.strength)}
                </Link>
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.items.length === 0 ? (
        <Empty>No controlled prescription of this patient awaits signature.</Empty>
      ) : (
        <>
          <p>
            Review every element. Only prescriptions marked ready can be signed; drafts must be
            marked ready on their own page first.
          </p>
          {r.items.map((i) => {
            const id = `epcs-${i.id}`;
            const canPick = i.status === 'ready';
            return (
              <fieldset key={i.id} data-rx={i.id} aria-labelledby={`${id}-legend`}>
                <legend id={`${id}-legend`}>
                  {drugText(i.drugName, i.strength)} — Schedule {i.schedule} ({i.status})
                </legend>
                <dl className="facts">
                  <dt>Date of issue</dt>
                  <dd>{i.dateOfIssue}</dd>
                  <dt>Patient</dt>
                  <dd>
                    {i.patientName}, {i.patientAddress}
                  </dd>
                  <dt>Drug</dt>
                  <dd>
                    {drugText(i.drugName, i.strength)}
                    {i.drugName.toLowerCase().includes(i.dosageForm.toLowerCase())
                      ? ''
                      : ` ${i.dosageForm}`}
                  </dd>
                  <dt>Quantity</dt>
                  <dd>{i.quantity}</dd>
                  <dt>Directions</dt>
                  <dd>{i.directions}</dd>
                  <dt>Refills</dt>
                  <dd>{i.refills}</dd>
                  <dt>Earliest fill date</dt>
                  <dd>{i.earliestFillDate ?? '—'}</dd>
                  <dt>Prescriber</dt>
                  <dd>
                    {i.prescriberName}, {i.prescriberAddress}
                  </dd>
                  <dt>DEA number</dt>
                  <dd>{i.deaNumber ?? dea}</dd>
                </dl>
                {canPick ? (
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={selected.has(i.id)}
                      onChange={(e) => {
                        const next = new Set(selected);
                        if (e.target.checked) next.add(i.id);
                        else next.delete(i.id);
                        setSelected(next);
                      }}
                    />
                    Sign this prescription
                  </label>
                ) : (
                  <p>
                    <Link to={`/prescriptions/${i.id}`}>Open it to mark it ready</Link>
                  </p>
                )}
              </fieldset>
            );
          })}
          {r.deaNumbers.length > 1 ? (
            <label>
              DEA registration
              <select
                value={dea}
                onChange={(e) => {
                  setDeaNumber(e.target.value);
                }}
              >
                {r.deaNumbers.map((d) => (
                  <option key={d} value={d}>
                    {d}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <h2>Attestation</h2>
          <p className="attestation">{r.attestation}</p>
          <label className="inline">
            <input
              type="checkbox"
              checked={attested}
              onChange={(e) => {
                setAttested(e.target.checked);
              }}
            />
            I have reviewed these prescriptions and make the statement above
          </label>
          <div className="actions">
            <button
              type="button"
              disabled={busy || !attested || selected.size === 0 || ready.length === 0}
              onClick={() => {
                setAsking(true);
              }}
            >
              {busy ? 'Signing…' : `Sign ${String(selected.size)} with two-factor authentication`}
            </button>
          </div>
        </>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not signed" />}
      {asking ? (
        <StepUpDialog
          action={EPCS_ACTION}
          totpOnly
          purpose="Enter the code from your authenticator: completing this step signs the selected controlled substance prescriptions."
          onDone={() => {
            void sign();
          }}
          onCancel={() => {
            setAsking(false);
          }}
        />
      ) : null}
    </section>
  );
}
