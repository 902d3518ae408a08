import { useEffect, useRef, useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../api/client.js';
import { ENDPOINTS } from '../api/endpoints.js';
import type { Rx, RxPatch } from '../api/types.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { ErrorNote } from '../components/status.js';
import { Link, navigate } from '../router.js';
import { useMe } from '../session.js';

/**
 * The statuses a prescriber may cancel from (the lifecycle table, src/prescribing/
 * prescription.state.ts): everything but dispensed and cancelled.
 */
const CANCELLABLE: ReadonlySet<string> = new Set([
  'draft',
  'ready',
  'signed',
  'queued',
  'transmitted',
  'acknowledged',
  'error',
]);

/**
 * Whether cancelling sends a CancelRx: the service sends one for a signed prescription that left
 * the `signed` status (queued, sent, acknowledged, failed), NCPDP SCRIPT 2017071 CancelRx.
 */
function sendsCancelRx(rx: Rx): boolean {
  return rx.signedAt !== null && rx.status !== 'signed';
}

/** "Renewal of" / "Change of" the prescription a renewal or change was made from (facts list). */
export function RxLineage(props: { readonly rx: Rx }): ReactNode {
  const previous = props.rx.previousId;
  if (previous === undefined || previous === null) return null;
  const label =
    props.rx.kind === 'renewal' ? 'Renewal of' : props.rx.kind === 'change' ? 'Change of' : 'From';
  return (
    <>
      <dt>{label}</dt>
      <dd>
        <Link to={`/prescriptions/${previous}`}>the original prescription</Link>
      </dd>
    </>
  );
}

/**
 * Cancel (`rx.cancel`, with a confirmation saying what happens), renew and change (`rx.draft`,
 * a signed prescription: a new linked draft, opened at once to review and sign) of one
 * prescription. The server decides; the buttons follow its lifecycle and the user's permissions.
 */
export function RxActions(props: { readonly rx: Rx; readonly onChanged: () => void }): ReactNode {
  const { rx } = props;
  const me = useMe();
  const [confirming, setConfirming] = useState(false);
  const [changing, setChanging] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [dialogError, setDialogError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const doneNote = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    // The cancel button is gone once cancelled: the outcome takes the focus instead.
    if (done !== undefined) doneNote.current?.focus();
  }, [done]);

  const canCancel = me.permissions.includes('rx.cancel') && CANCELLABLE.has(rx.status);
  const canDerive = me.permissions.includes('rx.draft') && rx.signedAt !== null;
  if (!canCancel && !canDerive && done === undefined) return null;
  const sent = sendsCancelRx(rx);

  const cancel = async (): Promise<void> => {
    setBusy(true);
    setDialogError(undefined);
    try {
      await api.post<Rx>(fill(ENDPOINTS.rxCancel[1], { id: rx.id }));
      setConfirming(false);
      setDone(
        sent
          ? 'Cancelled. A cancel request is on its way to the pharmacy; its answer appears in the delivery timeline.'
          : 'Cancelled.',
      );
      props.onChanged();
    } catch (err) {
      setDialogError(err);
    } finally {
      setBusy(false);
    }
  };

  const derive = async (verb: 'renew' | 'change', patch: RxPatch): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const url = verb === 'renew' ? ENDPOINTS.rxRenew[1] : ENDPOINTS.rxChange[1];
      const created = await api.post<Rx>(fill(url, { id: rx.id }), patch);
      navigate(`/prescriptions/${created.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="rx-actions-heading">
      <h2 id="rx-actions-heading">Actions</h2>
      {canDerive ? (
        <p>
          Renew or change makes a new draft linked to this prescription, with the same drug and
          pharmacy; you review and sign it on its own page.
        </p>
      ) : null}
      <div className="actions">
        {canCancel ? (
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => {
              setDialogError(undefined);
              setConfirming(true);
            }}
          >
            Cancel prescription
          </button>
        ) : null}
        {canDerive ? (
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              void derive('renew', {});
            }}
          >
            Renew
          </button>
        ) : null}
        {canDerive ? (
          <button
            type="button"
            className="secondary"
            aria-expanded={changing}
            aria-controls="rx-change-form"
            onClick={() => {
              setChanging(!changing);
            }}
          >
            Change…
          </button>
        ) : null}
      </div>
      {canDerive && changing ? (
        <ChangeForm
          rx={rx}
          busy={busy}
          onSubmit={(patch) => {
            void derive('change', patch);
          }}
        />
      ) : null}
      {done === undefined ? null : (
        <p ref={doneNote} tabIndex={-1} className="note ok" role="status">
          {done}
        </p>
      )}
      {error === undefined ? null : <ErrorNote error={error} action="Not done" />}
      {confirming ? (
        <ConfirmDialog
          id="rx-cancel"
          title="Cancel this prescription?"
          confirmLabel={sent ? 'Cancel and tell the pharmacy' : 'Cancel prescription'}
          keepLabel="Keep it"
          busy={busy}
          error={dialogError}
          onConfirm={() => {
            void cancel();
          }}
          onClose={() => {
            if (!busy) setConfirming(false);
          }}
        >
          {sent ? (
            <>
              <p>
                It was sent to the pharmacy
                {rx.pharmacyNcpdpId === undefined ? '' : ` (NCPDP ${rx.pharmacyNcpdpId})`}, so a
                cancel request (CancelRx) goes to it now. The pharmacy answers: it confirms, or
                denies when the prescription was already dispensed. The answer appears in the
                delivery timeline.
              </p>
              <p>It is marked cancelled here at once and cannot be signed or sent again.</p>
            </>
          ) : (
            <p>
              {rx.signedAt === null
                ? 'It was never signed or sent; it ends here and cannot be signed afterwards.'
                : 'It was signed but not yet sent; nothing goes to the pharmacy and it will not be sent.'}
            </p>
          )}
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

/** The fields a change usually touches, prefilled; only those edited are sent. */
function ChangeForm(props: {
  readonly rx: Rx;
  readonly busy: boolean;
  readonly onSubmit: (patch: RxPatch) => void;
}): ReactNode {
  const { rx } = props;
  const [quantity, setQuantity] = useState(String(rx.quantity?.value ?? ''));
  const [unit, setUnit] = useState(rx.quantity?.unit ?? '');
  const [daysSupply, setDaysSupply] = useState(String(rx.daysSupply ?? ''));
  const [refills, setRefills] = useState(String(rx.refills ?? ''));
  const [sig, setSig] = useState(rx.sig ?? '');
  const [unchanged, setUnchanged] = useState(false);
  const edit = (set: (v: string) => void, value: string): void => {
    set(value);
    setUnchanged(false);
  };

  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const patch: RxPatch = {};
    const q = Number(quantity);
    if (q !== rx.quantity?.value || unit.trim() !== rx.quantity.unit) {
      patch.quantity = { value: q, unit: unit.trim() };
    }
    if (Number(daysSupply) !== rx.daysSupply) patch.daysSupply = Number(daysSupply);
    if (Number(refills) !== rx.refills) patch.refills = Number(refills);
    if (sig.trim() !== rx.sig) patch.sig = sig.trim();
    const none = Object.keys(patch).length === 0;
    setUnchanged(none);
    if (!none) props.onSubmit(patch);
  };

  return (
    <form
      id="rx-change-form"
      onSubmit={(e) => {
        submit(e);
      }}
    >
      <fieldset>
        <legend>Change the amount or directions</legend>
        <div className="actions">
          <label>
            Quantity
            <input
              type="number"
              min="0"
              step="any"
              required
              value={quantity}
              onChange={(e) => {
                edit(setQuantity, e.target.value);
              }}
            />
          </label>
          <label>
            Unit
            <input
              required
              maxLength={40}
              value={unit}
              onChange={(e) => {
                edit(setUnit, e.target.value);
              }}
            />
          </label>
          <label>
            Days supply
            <input
              type="number"
              min="1"
              max="366"
              required
              value={daysSupply}
              onChange={(e) => {
                edit(setDaysSupply, e.target.value);
              }}
            />
          </label>
          <label>
            Refills
            <input
              type="number"
              min="0"
              // No refill of a Schedule II prescription (21 CFR 1306.12(a)).
              max={rx.deaSchedule === 'CII' ? '0' : '99'}
              required
              value={refills}
              onChange={(e) => {
                edit(setRefills, e.target.value);
              }}
            />
          </label>
        </div>
        <label>
          Directions (sig)
          <textarea
            required
            maxLength={1000}
            rows={2}
            value={sig}
            onChange={(e) => {
              edit(setSig, e.target.value);
            }}
          />
        </label>
      </fieldset>
      {unchanged ? (
        <p className="note error" role="alert">
          Nothing was changed: edit a field first, or use Renew for the same prescription again.
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" disabled={props.busy}>
          Make the change draft
        </button>
      </div>
    </form>
  );
}
