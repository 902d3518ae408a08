import type { ScreenDef } from '../registry.js';
import { PharmacyInbox } from './Inbox.js';
import { PharmacyInboxItem } from './InboxItem.js';
import '../consoles.css';
import './pharmacy.css';

/**
 * Roles that reach the inbox (`pharmacy.receive`, src/access/role-catalog.ts). Technicians read;
 * only `pharmacy.dispense` (pharmacists) shows the action buttons.
 */
const PHARMACY_STAFF = ['pharmacist', 'pharmacy_technician'];

/** The pharmacist's screens (issue #10, point 4). */
export const PHARMACY_SCREENS: readonly ScreenDef[] = [
  {
    path: '/pharmacy/inbox',
    title: 'Prescription inbox',
    nav: 'Inbox',
    group: 'pharmacy',
    roles: PHARMACY_STAFF,
    component: PharmacyInbox,
  },
  {
    path: '/pharmacy/inbox/:id',
    title: 'Received prescription',
    group: 'pharmacy',
    roles: PHARMACY_STAFF,
    component: PharmacyInboxItem,
  },
];
