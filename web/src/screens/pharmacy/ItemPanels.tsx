import type { ReactNode } from 'react';
import { ShortId, when } from '../../components/console.js';
import { CancelBadge, StatusBadge, day, schedule, unit } from './format.js';
import type { InboxAddress, InboxItem } from './types.js';

/* The read-only panels of a received prescription (the dispensing view). */

/** The signature verification result, shown first. */
export function SignaturePanel(props: { readonly p: InboxItem }): ReactNode {
  const s = props.p.signature;
  const verified = s.status === 'verified';
  return (
    <section
      className={`panel signature ${verified ? 'signature-ok' : 'signature-warn'}`}
      aria-labelledby="signature-title"
    >
      <h2 id="signature-title">{verified ? 'Signature verified' : 'Not signed'}</h2>
      {verified ? (
        <dl className="facts">
          <dt>Key id</dt>
          <dd>
            <code>{s.keyId ?? '—'}</code>
          </dd>
          <dt>Verified at</dt>
          <dd>{when(s.verifiedAt)}</dd>
          <dt>Sender</dt>
          <dd>
            <code>{props.p.senderId}</code>
          </dd>
        </dl>
      ) : (
        <p>
          The prescriber system sent this prescription without a digital signature. Only
          non-controlled prescriptions are accepted unsigned.
        </p>
      )}
    </section>
  );
}

/** Where the prescription stands: status, cancel request, pharmacy, fills. */
export function Facts(props: { readonly p: InboxItem }): ReactNode {
  const { p } = props;
  return (
    <dl className="facts rx-state">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={p.status} />
      </dd>
      <dt>Cancel requested</dt>
      <dd>
        <CancelBadge cancelStatus={p.cancelStatus} />
      </dd>
      <dt>Pharmacy</dt>
      <dd>
        {p.pharmacy.name} <span className="muted">(NCPDP {p.pharmacy.ncpdpId})</span>
      </dd>
      <dt>Received</dt>
      <dd>{when(p.receivedAt)}</dd>
      <dt>Dispensed so far</dt>
      <dd>{p.quantityDispensed}</dd>
    </dl>
  );
}

function address(a: InboxAddress | undefined): string {
  if (a === undefined) return '—';
  return [a.line1, a.line2, `${a.city}, ${a.state} ${a.postalCode}`]
    .filter((x) => x !== undefined && x !== '')
    .join(', ');
}

/** The patient fields a dispensing needs (minimum necessary: the server shapes them). */
export function Patient(props: { readonly p: InboxItem }): ReactNode {
  const pt = props.p.patient;
  return (
    <section className="card" aria-labelledby="patient-title">
      <h2 id="patient-title">Patient</h2>
      {pt === null ? (
        <p>Unreadable.</p>
      ) : (
        <dl className="facts">
          <dt>Name</dt>
          <dd>
            {pt.lastName}, {pt.firstName}
            {pt.middleName === undefined ? '' : ` ${pt.middleName}`}
          </dd>
          <dt>Date of birth</dt>
          <dd>{day(pt.birthDate)}</dd>
          <dt>Gender</dt>
          <dd>{pt.gender}</dd>
          <dt>Address</dt>
          <dd>{address(pt.address)}</dd>
          <dt>Phone</dt>
          <dd>{pt.phone ?? '—'}</dd>
        </dl>
      )}
    </section>
  );
}

/** The prescriber as the message names them (NPI, DEA number, state licence). */
export function Prescriber(props: { readonly p: InboxItem }): ReactNode {
  const pr = props.p.prescriber;
  return (
    <section className="card" aria-labelledby="prescriber-title">
      <h2 id="prescriber-title">Prescriber</h2>
      {pr === null ? (
        <p>Unreadable.</p>
      ) : (
        <dl className="facts">
          <dt>Name</dt>
          <dd>
            {pr.lastName}, {pr.firstName}
          </dd>
          <dt>NPI</dt>
          <dd>{pr.npi}</dd>
          <dt>DEA number</dt>
          <dd>{pr.deaNumber ?? '—'}</dd>
          <dt>State licence</dt>
          <dd>{pr.stateLicenseNumber ?? '—'}</dd>
          <dt>Address</dt>
          <dd>{address(pr.address)}</dd>
          <dt>Phone</dt>
          <dd>{pr.phone ?? '—'}</dd>
        </dl>
      )}
    </section>
  );
}

/** The medication as prescribed. */
export function MedicationPanel(props: { readonly p: InboxItem }): ReactNode {
  const m = props.p.medication;
  return (
    <section className="panel" aria-labelledby="medication-title">
      <h2 id="medication-title">Medication</h2>
      {m === null ? (
        <p>Unreadable.</p>
      ) : (
        <dl className="facts">
          <dt>Drug</dt>
          <dd>{m.drugDescription}</dd>
          <dt>Schedule</dt>
          <dd>{schedule(m.deaSchedule) ?? 'Not controlled'}</dd>
          <dt>Quantity</dt>
          <dd>
            {m.quantity.value} {unit(m.quantity.unitCode)}
          </dd>
          <dt>Days supply</dt>
          <dd>{m.daysSupply ?? '—'}</dd>
          <dt>Directions (sig)</dt>
          <dd>{m.sig}</dd>
          <dt>Refills</dt>
          <dd>{m.numberOfRefills}</dd>
          <dt>Substitution</dt>
          <dd>{m.substitutions === '0' ? 'Allowed' : `Code ${m.substitutions}`}</dd>
          <dt>Written</dt>
          <dd>{day(m.writtenDate)}</dd>
          <dt>Earliest fill</dt>
          <dd>{day(m.earliestFillDate)}</dd>
          <dt>RxNorm</dt>
          <dd>{m.rxnorm === undefined ? '—' : `${m.rxnorm.code} (${m.rxnorm.qualifier})`}</dd>
          <dt>NDC</dt>
          <dd>{m.ndc ?? '—'}</dd>
          <dt>Note</dt>
          <dd>{m.note ?? '—'}</dd>
        </dl>
      )}
    </section>
  );
}

const KIND_LABEL: Readonly<Record<string, string>> = {
  accept: 'Accepted',
  fill: 'Filled',
  cancel_response: 'Cancellation answered',
  renewal_request: 'Renewal requested',
  change_request: 'Change requested',
};

/** What was done and which message went to the prescriber. */
export function History(props: { readonly p: InboxItem }): ReactNode {
  const { p } = props;
  return (
    <section className="panel" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {p.actions.length === 0 ? (
        <p className="note empty">Nothing done yet.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Actions on this prescription</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Message sent</th>
              <th scope="col">Details</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {p.actions.map((a) => (
              <tr key={a.messageId}>
                <td>{when(a.at)}</td>
                <td>{KIND_LABEL[a.kind] ?? a.kind}</td>
                <td>
                  <code>{a.messageType}</code>
                </td>
                <td>
                  {[
                    a.quantity === undefined ? undefined : `quantity ${a.quantity}`,
                    a.fillStatus,
                    a.decision,
                    a.code === undefined ? undefined : `code ${a.code}`,
                    a.note,
                  ]
                    .filter((x) => x !== undefined)
                    .join(' · ') || '—'}
                </td>
                <td>
                  <ShortId id={a.actorId} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
