import { useState, type ReactNode } from 'react';
import { TextField, ifFilled } from '../../components/TextField.js';
import type { CancelAnswerBody } from './types.js';

/**
 * The answer to the prescriber's CancelRx: approve (unless it was dispensed already) or deny
 * with a SCRIPT ReasonCode.
 */
export function CancelAnswerForm(props: {
  readonly busy: boolean;
  readonly dispensed: boolean;
  readonly onAnswer: (body: CancelAnswerBody, what: string) => void;
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
              { decision: 'approve', ...ifFilled('note', note) },
              'Cancellation approved; the prescription is cancelled.',
            );
          }}
        >
          <TextField
            label="Note to the prescriber (optional)"
            maxLength={210}
            value={note}
            onValue={setNote}
          />
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
              ...ifFilled('reason', reason),
            },
            'Cancellation denied; the prescriber is told.',
          );
        }}
      >
        <TextField
          label="Denial reason code (SCRIPT ReasonCode)"
          required
          pattern="[A-Za-z0-9]{2,3}"
          maxLength={3}
          value={code}
          onValue={setCode}
        />
        <TextField label="Reason (optional)" maxLength={70} value={reason} onValue={setReason} />
        <div className="actions">
          <button type="submit" className="secondary" disabled={props.busy}>
            Deny cancellation
          </button>
        </div>
      </form>
    </fieldset>
  );
}
