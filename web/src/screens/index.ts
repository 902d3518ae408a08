import { ADMIN_SCREENS } from './admin/index.js';
import { COMPLIANCE_SCREENS } from './compliance/index.js';
import { Home } from './Home.js';
import type { ScreenDef } from './registry.js';

export type { ScreenDef, ScreenProps } from './registry.js';

/** Clinical roles that see patients and prescriptions. */
export const CLINICAL = ['prescriber', 'prescriber_agent'] as const;

/**
 * Every screen of the signed-in app. Add yours here (path, title, roles, component); the shell
 * routes to it and lists it in the navigation of the roles given.
 */
export const SCREENS: readonly ScreenDef[] = [
  { path: '/', title: 'Home', nav: 'Home', component: Home },
  ...COMPLIANCE_SCREENS,
  ...ADMIN_SCREENS,
];
