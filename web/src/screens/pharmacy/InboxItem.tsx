import { useState, type ReactNode } from 'react';
import { fill } from '../../api/client.js';
import { PHARMACY_ENDPOINTS as E } from '../../api/pharmacy-endpoints.js';
import { LoadState, can, useLoad } from '../../components/console.js';
import { Link } from '../../router.js';
import { useMe } from '../../session.js';
import type { ScreenProps } from '../registry.js';
import { Actions } from './Actions.js';
import {
  Facts,
  History,
  MedicationPanel,
  Patient,
  Prescriber,
  SignaturePanel,
} from './ItemPanels.js';
import type { InboxItem } from './types.js';

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
