import type { ReactNode } from 'react';
import { api, fill } from '../../api/client.js';
import { PHARMACY_ENDPOINTS as E } from '../../api/pharmacy-endpoints.js';
import { serverReason, useAction } from '../../components/console.js';
import { ErrorNote } from '../../components/status.js';
import { CancelAnswerForm } from './CancelAnswerForm.js';
import { DispenseForm } from './DispenseForm.js';
import { STATUS_LABEL } from './format.js';
import { ChangeRequestForm, RenewalRequestForm } from './RequestForms.js';
import type { InboxItem } from './types.js';

/** What may be done in the prescription's state; the server checks again (409 otherwise). */
export function Actions(props: {
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
        <CancelAnswerForm
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
        <DispenseForm
          p={p}
          busy={action.busy}
          onDispense={(body, what) => {
            post(E.dispense[1], body, what);
          }}
        />
      ) : null}
      {canRenew ? (
        <RenewalRequestForm
          busy={action.busy}
          onSend={(body) => {
            post(E.renewalRequest[1], body, 'Renewal request sent to the prescriber.');
          }}
        />
      ) : null}
      {canChange ? (
        <ChangeRequestForm
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
