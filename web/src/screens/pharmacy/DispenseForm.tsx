import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { TextField, ifFilled } from '../../components/TextField.js';
import { unit } from './format.js';
import type { DispenseBody, InboxItem } from './types.js';

/** Record a fill: less than the prescribed quantity (over all fills) is a partial fill. */
export function DispenseForm(props: {
  readonly p: InboxItem;
  readonly busy: boolean;
  readonly onDispense: (body: DispenseBody, what: string) => void;
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
        ...ifFilled('ndc', ndc),
        ...ifFilled('daysSupply', daysSupply, Number),
        ...ifFilled('note', note),
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
        <TextField
          label="Quantity dispensed"
          inputMode="decimal"
          required
          pattern="(0|[1-9][0-9]{0,10})(\.[0-9]{0,4}[1-9])?"
          value={quantity}
          onValue={setQuantity}
        />
        <TextField
          label="NDC dispensed (11 digits, optional)"
          inputMode="numeric"
          pattern="[0-9]{11}"
          value={ndc}
          onValue={setNdc}
        />
        <TextField
          label="Days supply (optional)"
          type="number"
          min={1}
          max={999}
          value={daysSupply}
          onValue={setDaysSupply}
        />
        <TextField label="Note (optional)" maxLength={70} value={note} onValue={setNote} />
        <div className="actions">
          <button type="submit" disabled={props.busy}>
            Record fill
          </button>
        </div>
      </fieldset>
    </form>
  );
}
