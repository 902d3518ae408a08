import { useState, type ReactNode } from 'react';
import { TextField, ifFilled } from '../../components/TextField.js';
import type { ChangeBody, ChangeCode, RenewalBody } from './types.js';

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

/** Ask the prescriber for a renewal (an RxRenewalRequest). */
export function RenewalRequestForm(props: {
  readonly busy: boolean;
  readonly onSend: (body: RenewalBody) => void;
}): ReactNode {
  const [note, setNote] = useState('');
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        props.onSend(ifFilled('note', note));
      }}
    >
      <fieldset>
        <legend>Ask the prescriber for a renewal</legend>
        <TextField label="Note (optional)" maxLength={210} value={note} onValue={setNote} />
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Send renewal request
          </button>
        </div>
      </fieldset>
    </form>
  );
}

/** Ask the prescriber for a change (an RxChangeRequest), with the proposed drug when it has one. */
export function ChangeRequestForm(props: {
  readonly busy: boolean;
  readonly onSend: (body: ChangeBody) => void;
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
                  ...ifFilled('quantity', quantity),
                  ...ifFilled('sig', sig),
                  ...ifFilled('note', note),
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
        <TextField
          label={`Proposed drug${needsDrug ? '' : ' (optional)'}`}
          maxLength={105}
          required={needsDrug}
          value={drug}
          onValue={setDrug}
        />
        <TextField
          label="Proposed quantity (optional)"
          inputMode="decimal"
          pattern="(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?"
          value={quantity}
          onValue={setQuantity}
        />
        <TextField
          label="Proposed directions (optional)"
          maxLength={1000}
          value={sig}
          onValue={setSig}
        />
        <TextField label="Note (optional)" maxLength={210} value={note} onValue={setNote} />
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Send change request
          </button>
        </div>
      </fieldset>
    </form>
  );
}
