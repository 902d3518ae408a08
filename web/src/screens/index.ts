import { Account } from './Account.js';
import { Drafts } from './Drafts.js';
import { EpcsSign } from './EpcsSign.js';
import { ADMIN_SCREENS } from './admin/index.js';
import { COMPLIANCE_SCREENS } from './compliance/index.js';
import { Home } from './Home.js';
import { NewPrescription } from './NewPrescription.js';
import { Patients } from './Patients.js';
import { PatientSummaryScreen } from './PatientSummary.js';
import { PHARMACY_SCREENS } from './pharmacy/index.js';
import { PharmacyRequests } from './PharmacyRequests.js';
import { PrescriptionDetail } from './PrescriptionDetail.js';
import type { ScreenDef } from './registry.js';

export type { ScreenDef, ScreenProps } from './registry.js';

/** Roles that treat patients and see their records and prescriptions. */
export const TREATING = ['prescriber', 'prescriber_agent', 'care_coordinator'] as const;
/** Roles that draft prescriptions. */
export const DRAFTING = ['prescriber', 'prescriber_agent'] as const;

/**
 * Every screen of the signed-in app. Add yours here (path, title, roles, component); the shell
 * routes to it and lists it in the navigation of the roles given. Titles are fixed text: never
 * PHI. Paths carry opaque ids only.
 */
export const SCREENS: readonly ScreenDef[] = [
  { path: '/', title: 'Home', nav: 'Home', component: Home },
  {
    path: '/patients',
    title: 'Patients',
    nav: 'Patients',
    group: 'clinical',
    roles: TREATING,
    component: Patients,
  },
  {
    path: '/drafts',
    title: 'Drafts and signing queue',
    nav: 'Drafts',
    group: 'clinical',
    roles: DRAFTING,
    component: Drafts,
  },
  {
    path: '/requests',
    title: 'Pharmacy requests',
    nav: 'Pharmacy requests',
    group: 'clinical',
    roles: ['prescriber'],
    component: PharmacyRequests,
  },
  {
    path: '/patients/:id',
    title: 'Patient summary',
    group: 'clinical',
    roles: TREATING,
    component: PatientSummaryScreen,
  },
  {
    path: '/patients/:id/prescribe',
    title: 'New prescription',
    group: 'clinical',
    roles: DRAFTING,
    component: NewPrescription,
  },
  {
    path: '/patients/:id/epcs',
    title: 'Sign controlled substances',
    group: 'clinical',
    roles: ['prescriber'],
    component: EpcsSign,
  },
  {
    path: '/prescriptions/:id',
    title: 'Prescription',
    group: 'clinical',
    roles: TREATING,
    component: PrescriptionDetail,
  },
  { path: '/account', title: 'Account', nav: 'Account', group: 'account', component: Account },
  ...PHARMACY_SCREENS,
  ...COMPLIANCE_SCREENS,
  ...ADMIN_SCREENS,
];
