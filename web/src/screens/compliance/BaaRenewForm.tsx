import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, fill } from '../../api/client.js';
import { CONSOLE_ENDPOINTS as E } from '../../api/console-endpoints.js';
import { useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import { DocumentInput, documentBody, type Baa } from './BaaForm.js';

/** Renewal: the same agreement, a later expiry date, the reason kept on the new version. */
export function RenewBaa(props: {
  readonly baa: Baa;
  readonly vendorName: string;
  readonly onDone: (message: string) => void;
  readonly onCancel: () => void;
}): ReactNode {
  const b = props.baa;
  const [expiry, setExpiry] = useState('');
  const [reason, setReason] = useState('Renewal');
  const [file, setFile] = useState<File | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const action = useAction();
  const floor = b.expiryDate ?? b.effectiveDate;
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const wrong = expiry <= floor ? `The new expiry date must be after ${floor}.` : undefined;
    setProblem(wrong);
    if (wrong !== undefined) return;
    void action.run(async () => {
      const document = file === undefined ? undefined : await documentBody(file);
      if (typeof document === 'string') {
        setProblem(document);
        return;
      }
      await api.put<Baa>(fill(E.baaUpdate[1], { id: b.id }), {
        parties: b.parties,
        effectiveDate: b.effectiveDate,
        expiryDate: expiry,
        permittedUses: b.permittedUses,
        breachNoticeDays: b.breachNoticeDays,
        subcontractorFlowDown: b.subcontractorFlowDown,
        auditRights: b.auditRights,
        returnDestruction: b.returnDestruction,
        reason: reason.trim(),
      });
      if (document !== undefined) await api.post(fill(E.baaDocument[1], { id: b.id }), document);
      props.onDone(`BAA with ${props.vendorName} renewed: now expires ${expiry}.`);
    });
  };
  return (
    <form onSubmit={submit} className="panel" aria-label={`Renew the BAA with ${props.vendorName}`}>
      <p>
        Renewing the BAA with {props.vendorName} (in effect from {b.effectiveDate}, expiring{' '}
        {b.expiryDate ?? 'never'}).
      </p>
      <label>
        New expiry date
        <input
          type="date"
          required
          min={floor}
          value={expiry}
          onChange={(e) => {
            setExpiry(e.target.value);
          }}
        />
      </label>
      <label>
        Reason
        <input
          required
          maxLength={500}
          value={reason}
          onChange={(e) => {
            setReason(e.target.value);
          }}
        />
      </label>
      <DocumentInput label="Signed renewal (optional, PDF or image)" onChange={setFile} />
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Save renewal
        </button>
        <button type="button" className="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      {problem === undefined ? null : (
        <p className="note error" role="alert">
          {problem}
        </p>
      )}
      {action.error === undefined ? null : (
        <ErrorNote error={action.error} action="Renewing the BAA" />
      )}
    </form>
  );
}
