/**
 * The prescription lifecycle as a table: each allowed move, the audit action it writes, and who
 * may cause it. draft → ready → signed → queued → transmitted → acknowledged / error → dispensed,
 * with cancel; renewals and changes are new records linked to the original. Anything not in the
 * table is refused (`conflict`), so a state cannot be skipped or revisited by accident.
 */
import { AppError } from '../core/index.js';
import { PRESCRIPTION_EDIT_REFUSED } from '../monitoring/actions.js';
import type { PrescriptionStatus } from './prescription.types.js';

/** Audit actions of the lifecycle (every transition writes one, with the request id). */
export const RX_ACTIONS = {
  created: 'prescription.created',
  changed: 'prescription.changed',
  ready: 'prescription.ready',
  signed: 'prescription.signed',
  queued: 'prescription.queued',
  transmitted: 'prescription.transmitted',
  acknowledged: 'prescription.acknowledged',
  cancelled: 'prescription.cancelled',
  failed: 'prescription.failed',
  dispensed: 'prescription.dispensed',
  read: 'prescription.read',
  editRefused: PRESCRIPTION_EDIT_REFUSED,
} as const;

export type RxAction = (typeof RX_ACTIONS)[keyof typeof RX_ACTIONS];

/** Who causes a move: the prescriber side, the network (outbox worker, switch), the pharmacy. */
export type TransitionSource = 'clinic' | 'network' | 'pharmacy';

interface Move {
  readonly to: PrescriptionStatus;
  readonly action: RxAction;
  readonly by: readonly TransitionSource[];
}

const CANCEL: Move = { to: 'cancelled', action: RX_ACTIONS.cancelled, by: ['clinic'] };

const TABLE: Readonly<Record<PrescriptionStatus, readonly Move[]>> = {
  draft: [{ to: 'ready', action: RX_ACTIONS.ready, by: ['clinic'] }, CANCEL],
  ready: [
    { to: 'draft', action: RX_ACTIONS.changed, by: ['clinic'] },
    { to: 'signed', action: RX_ACTIONS.signed, by: ['clinic'] },
    CANCEL,
  ],
  signed: [{ to: 'queued', action: RX_ACTIONS.queued, by: ['clinic'] }, CANCEL],
  queued: [
    { to: 'transmitted', action: RX_ACTIONS.transmitted, by: ['network'] },
    { to: 'error', action: RX_ACTIONS.failed, by: ['network'] },
    CANCEL,
  ],
  transmitted: [
    { to: 'acknowledged', action: RX_ACTIONS.acknowledged, by: ['network', 'pharmacy'] },
    { to: 'error', action: RX_ACTIONS.failed, by: ['network', 'pharmacy'] },
    { to: 'dispensed', action: RX_ACTIONS.dispensed, by: ['pharmacy'] },
    CANCEL,
  ],
  acknowledged: [{ to: 'dispensed', action: RX_ACTIONS.dispensed, by: ['pharmacy'] }, CANCEL],
  // A failed delivery is queued again (retry) or cancelled.
  error: [{ to: 'queued', action: RX_ACTIONS.queued, by: ['clinic', 'network'] }, CANCEL],
  dispensed: [],
  cancelled: [],
};

/** The audit action of a move, or `conflict` when the table does not allow it. */
export function transition(
  from: PrescriptionStatus,
  to: PrescriptionStatus,
  by: TransitionSource,
): RxAction {
  const move = TABLE[from].find((m) => m.to === to && m.by.includes(by));
  if (move === undefined) {
    throw new AppError('conflict', 'this change is not allowed in the current status', {
      detail: `${from}->${to}`,
    });
  }
  return move.action;
}

/** The moves out of a status (for clients and tests). */
export function nextStatuses(from: PrescriptionStatus): PrescriptionStatus[] {
  return TABLE[from].map((m) => m.to);
}
