import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { PHARMACY_ENDPOINTS as E } from '../../api/pharmacy-endpoints.js';
import {
  LoadState,
  ShortId,
  can,
  serverReason,
  useAction,
  useLoad,
  when,
} from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import { Link } from '../../router.js';
import { useMe } from '../../session.js';
import type { ScreenProps } from '../registry.js';
import { CancelBadge, STATUS_LABEL, StatusBadge, day, schedule, unit } from './format.js';
import type { ChangeCode, InboxAddress, InboxItem } from './types.js';

/** SCRIPT MessageRequestCode values of an RxChangeRequest. */
const CHANGE_CODES: readonly (readonly [ChangeCode, string])[] = [
  ['G', 'Generic substitution'],
  ['T', 'Therapeutic interchange'],
  ['P', 'Prior authorization required'],
  ['U', 'Prescriber authorization needed'],
  ['S', 'Script clarification'],
  ['OS', 'Out of stock'],
  ['D', 'Drug use evaluation'],
];

/**
 * One received prescription (the dispensing view): the signature verification result first,
 * then patient, prescriber and medication, then what the pharmacist can do in its state (accept,
 * dispense, answer a cancellation, ask for a renewal or a change) and what was done. People
 * without `pharmacy.dispense` (technicians) see the view and no action.
 */
export function PharmacyInboxItem(props: ScreenProps): ReactNode {
  const id = props.params.id ?? '';
  const me = useMe();
  const loaded = useLoad<InboxItem>(fill(E.inboxItem[1], { id }));
  const [done, setDone] = useState<string | undefined>(undefined);
  // The answer of the last action is the prescription as it is now: shown at once.
  const [latest, setLatest] = useState<InboxItem | undefined>(undefined);
  return (
    <section>
      <p>
        <Link to="/pharmacy/inbox">Back to the inbox</Link>
      </p>
      <h1>Received prescription</h1>
      {done === undefined ? null : (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      <LoadState loaded={loaded} what="the prescription">
        {(loadedItem) => {
          const p = latest !== undefined && latest.id === loadedItem.id ? latest : loadedItem;
          return (
            <>
              <SignaturePanel p={p} />
              <Facts p={p} />
              <div className="cards">
                <Patient p={p} />
                <Prescriber p={p} />
              </div>
              <MedicationPanel p={p} />
              {can(me, 'pharmacy.dispense') ? (
                <Actions
                  p={p}
                  onDone={(what, updated) => {
                    setLatest(updated);
                    setDone(what);
                  }}
                />
              ) : (
                <p className="note">Only a pharmacist accepts and dispenses prescriptions.</p>
              )}
              <History p={p} />
            </>
          );
        }}
      </LoadState>
    </section>
  );
}

function SignaturePanel(props: { readonly p: InboxItem }): ReactNode {
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

function Facts(props: { readonly p: InboxItem }): ReactNode {
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

function Patient(props: { readonly p: InboxItem }): ReactNode {
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

function Prescriber(props: { readonly p: InboxItem }): ReactNode {
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

function MedicationPanel(props: { readonly p: InboxItem }): ReactNode {
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

/** What may be done in the prescription's state; the server checks again (409 otherwise). */
function Actions(props: {
  readonly p: InboxItem;
  readonly onDone: (what: string, updated: InboxItem) => void;
}): ReactNode {
  const { p } = props;
  const action = useAction();
  const post = (path: string, body: unknown, what: string): void => {
    void action.run(async () => {
      props.onDone(what, await api.post<InboxItem>(fill(path, { id: p.id }), body));
    });
  };
  const cancelWaiting = p.cancelStatus === 'requested';
  const canAccept = p.status === 'received' && !cancelWaiting;
  const canDispense =
    (p.status === 'accepted' || p.status === 'partially_dispensed') && !cancelWaiting;
  const canRenew = p.status === 'dispensed' || p.status === 'partially_dispensed';
  const canChange = p.status !== 'cancelled';
  const reason = serverReason(action.error);
  return (
    <section className="panel" aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action={reason === undefined ? 'Not done' : reason} />
      )}
      {cancelWaiting ? (
        <CancelAnswer
          busy={action.busy}
          dispensed={p.status === 'dispensed'}
          onAnswer={(body, what) => {
            post(E.cancelResponse[1], body, what);
          }}
        />
      ) : null}
      {canAccept ? (
        <div className="actions">
          <button
            type="button"
            disabled={action.busy}
            onClick={() => {
              post(E.accept[1], undefined, 'Accepted; the prescriber is told.');
            }}
          >
            Accept prescription
          </button>
        </div>
      ) : null}
      {canDispense ? (
        <Dispense
          p={p}
          busy={action.busy}
          onDispense={(body, what) => {
            post(E.dispense[1], body, what);
          }}
        />
      ) : null}
      {canRenew ? (
        <Renewal
          busy={action.busy}
          onSend={(body) => {
            post(E.renewalRequest[1], body, 'Renewal request sent to the prescriber.');
          }}
        />
      ) : null}
      {canChange ? (
        <Change
          busy={action.busy}
          onSend={(body) => {
            post(E.changeRequest[1], body, 'Change request sent to the prescriber.');
          }}
        />
      ) : null}
      {!canAccept && !canDispense && !canRenew && !canChange && !cancelWaiting ? (
        <p>Nothing more to do: the prescription is {STATUS_LABEL[p.status] ?? p.status}.</p>
      ) : null}
    </section>
  );
}

function optional<T>(value: string, map: (v: string) => T): T | undefined {
  return value.trim() === '' ? undefined : map(value.trim());
}

function Dispense(props: {
  readonly p: InboxItem;
  readonly busy: boolean;
  readonly onDispense: (body: Record<string, unknown>, what: string) => void;
}): ReactNode {
  const m = props.p.medication;
  const prescribed = m === null ? '' : m.quantity.value;
  const [quantity, setQuantity] = useState(prescribed);
  const [ndc, setNdc] = useState('');
  const [daysSupply, setDaysSupply] = useState('');
  const [note, setNote] = useState('');
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const total = Number(props.p.quantityDispensed) + Number(quantity);
    const partial = m !== null && total < Number(m.quantity.value);
    props.onDispense(
      {
        quantity: quantity.trim(),
        ...(optional(ndc, (v) => v) === undefined ? {} : { ndc: ndc.trim() }),
        ...(optional(daysSupply, Number) === undefined
          ? {}
          : { daysSupply: Number(daysSupply.trim()) }),
        ...(optional(note, (v) => v) === undefined ? {} : { note: note.trim() }),
      },
      partial
        ? 'Partial fill recorded; the prescriber is told.'
        : 'Dispensed; the prescriber is told.',
    );
  };
  return (
    <form onSubmit={submit} aria-labelledby="dispense-title">
      <fieldset>
        <legend id="dispense-title">Dispense</legend>
        <p className="muted">
          Prescribed {prescribed === '' ? '—' : prescribed}
          {m === null ? '' : ` ${unit(m.quantity.unitCode)}`}, refills{' '}
          {m === null ? '—' : m.numberOfRefills}; dispensed so far {props.p.quantityDispensed}. Less
          than the prescribed quantity is a partial fill.
        </p>
        <label>
          Quantity dispensed
          <input
            type="text"
            inputMode="decimal"
            required
            pattern="(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?"
            value={quantity}
            onChange={(e) => {
              setQuantity(e.target.value);
            }}
          />
        </label>
        <label>
          NDC dispensed (11 digits, optional)
          <input
            type="text"
            inputMode="numeric"
            pattern="[0-9]{11}"
            value={ndc}
            onChange={(e) => {
              setNdc(e.target.value);
            }}
          />
        </label>
        <label>
          Days supply (optional)
          <input
            type="number"
            min={1}
            max={999}
            value={daysSupply}
            onChange={(e) => {
              setDaysSupply(e.target.value);
            }}
          />
        </label>
        <label>
          Note (optional)
          <input
            type="text"
            maxLength={70}
            value={note}
            onChange={(e) => {
              setNote(e.target.value);
            }}
          />
        </label>
        <div className="actions">
          <button type="submit" disabled={props.busy}>
            Record fill
          </button>
        </div>
      </fieldset>
    </form>
  );
}

function CancelAnswer(props: {
  readonly busy: boolean;
  readonly dispensed: boolean;
  readonly onAnswer: (body: Record<string, unknown>, what: string) => void;
}): ReactNode {
  const [note, setNote] = useState('');
  const [code, setCode] = useState('AA');
  const [reason, setReason] = useState('');
  return (
    <fieldset>
      <legend>The prescriber asks to cancel this prescription</legend>
      {props.dispensed ? (
        <p>It was dispensed already: deny the cancellation and say why.</p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            props.onAnswer(
              { decision: 'approve', ...(note.trim() === '' ? {} : { note: note.trim() }) },
              'Cancellation approved; the prescription is cancelled.',
            );
          }}
        >
          <label>
            Note to the prescriber (optional)
            <input
              type="text"
              maxLength={210}
              value={note}
              onChange={(e) => {
                setNote(e.target.value);
              }}
            />
          </label>
          <div className="actions">
            <button type="submit" disabled={props.busy}>
              Approve cancellation
            </button>
          </div>
        </form>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onAnswer(
            {
              decision: 'deny',
              reasonCode: code.trim().toUpperCase(),
              ...(reason.trim() === '' ? {} : { reason: reason.trim() }),
            },
            'Cancellation denied; the prescriber is told.',
          );
        }}
      >
        <label>
          Denial reason code (SCRIPT ReasonCode)
          <input
            type="text"
            required
            pattern="[A-Za-z0-9]{2,3}"
            maxLength={3}
            value={code}
            onChange={(e) => {
              setCode(e.target.value);
            }}
          />
        </label>
        <label>
          Reason (optional)
          <input
            type="text"
            maxLength={70}
            value={reason}
            onChange={(e) => {
              setReason(e.target.value);
            }}
          />
        </label>
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Deny cancellation
          </button>
        </div>
      </form>
    </fieldset>
  );
}

function Renewal(props: {
  readonly busy: boolean;
  readonly onSend: (body: Record<string, unknown>) => void;
}): ReactNode {
  const [note, setNote] = useState('');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        props.onSend(note.trim() === '' ? {} : { note: note.trim() });
      }}
    >
      <fieldset>
        <legend>Ask the prescriber for a renewal</legend>
        <label>
          Note (optional)
          <input
            type="text"
            maxLength={210}
            value={note}
            onChange={(e) => {
              setNote(e.target.value);
            }}
          />
        </label>
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Send renewal request
          </button>
        </div>
      </fieldset>
    </form>
  );
}

function Change(props: {
  readonly busy: boolean;
  readonly onSend: (body: Record<string, unknown>) => void;
}): ReactNode {
  const [code, setCode] = useState<ChangeCode>('G');
  const [drug, setDrug] = useState('');
  const [quantity, setQuantity] = useState('');
  const [sig, setSig] = useState('');
  const [note, setNote] = useState('');
  const needsDrug = code === 'G' || code === 'T';
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const requested =
          drug.trim() === ''
            ? []
            : [
                {
                  drugDescription: drug.trim(),
                  ...(quantity.trim() === '' ? {} : { quantity: quantity.trim() }),
                  ...(sig.trim() === '' ? {} : { sig: sig.trim() }),
                  ...(note.trim() === '' ? {} : { note: note.trim() }),
                },
              ];
        props.onSend({ code, requested });
      }}
    >
      <fieldset>
        <legend>Ask the prescriber for a change</legend>
        <label>
          Reason (SCRIPT MessageRequestCode)
          <select
            value={code}
            onChange={(e) => {
              setCode(e.target.value as ChangeCode);
            }}
          >
            {CHANGE_CODES.map(([c, label]) => (
              <option key={c} value={c}>
                {c}: {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Proposed drug{needsDrug ? '' : ' (optional)'}
          <input
            type="text"
            maxLength={105}
            required={needsDrug}
            value={drug}
            onChange={(e) => {
              setDrug(e.target.value);
            }}
          />
        </label>
        <label>
          Proposed quantity (optional)
          <input
            type="text"
            inputMode="decimal"
            pattern="(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?"
            value={quantity}
            onChange={(e) => {
              setQuantity(e.target.value);
            }}
          />
        </label>
        <label>
          Proposed directions (optional)
          <input
            type="text"
            maxLength={1000}
            value={sig}
            onChange={(e) => {
              setSig(e.target.value);
            }}
          />
        </label>
        <label>
          Note (optional)
          <input
            type="text"
            maxLength={210}
            value={note}
            onChange={(e) => {
              setNote(e.target.value);
            }}
          />
        </label>
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Send change request
          </button>
        </div>
      </fieldset>
    </form>
  );
}

const KIND_LABEL: Readonly<Record<string, string>> = {
  accept: 'Accepted',
  fill: 'Filled',
  cancel_response: 'Cancellation answered',
  renewal_request: 'Renewal requested',
  change_request: 'Change requested',
};

function History(props: { readonly p: InboxItem }): ReactNode {
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
