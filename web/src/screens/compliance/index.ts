import type { ScreenDef } from '../registry.js';
import { AccessReviews } from './AccessReviews.js';
import { Alerts } from './Alerts.js';
import { AuditSearch } from './AuditSearch.js';
import { BreakGlassReviews } from './BreakGlass.js';
import { Controls } from './Controls.js';
import { Incidents } from './Incidents.js';
import { Integrations } from './Integrations.js';
import { Risks } from './Risks.js';
import { Vendors } from './Vendors.js';
import '../consoles.css';

/** Roles as the server grants the permissions (src/access/role-catalog.ts). */
const AUDIT_READERS = ['security_admin', 'compliance_officer', 'auditor'];
const COMPLIANCE_READERS = ['compliance_officer', 'auditor'];

/** The compliance officer's and auditor's console (issue #10, point 5). */
export const COMPLIANCE_SCREENS: readonly ScreenDef[] = [
  {
    path: '/compliance/audit',
    title: 'Audit log',
    nav: 'Audit',
    group: 'compliance',
    roles: AUDIT_READERS,
    component: AuditSearch,
  },
  {
    path: '/compliance/alerts',
    title: 'Alerts',
    nav: 'Alerts',
    group: 'compliance',
    roles: AUDIT_READERS,
    component: Alerts,
  },
  {
    path: '/compliance/break-glass',
    title: 'Break-glass reviews',
    nav: 'Break-glass',
    group: 'compliance',
    roles: ['security_admin', 'compliance_officer'],
    component: BreakGlassReviews,
  },
  {
    path: '/compliance/access-reviews',
    title: 'Access reviews',
    nav: 'Access reviews',
    group: 'compliance',
    roles: ['tenant_admin', 'compliance_officer'],
    component: AccessReviews,
  },
  {
    path: '/compliance/risks',
    title: 'Risk register',
    nav: 'Risks',
    group: 'compliance',
    roles: COMPLIANCE_READERS,
    component: Risks,
  },
  {
    path: '/compliance/incidents',
    title: 'Incidents',
    nav: 'Incidents',
    group: 'compliance',
    roles: COMPLIANCE_READERS,
    component: Incidents,
  },
  {
    path: '/compliance/vendors',
    title: 'Vendors and BAAs',
    nav: 'Vendors',
    group: 'compliance',
    roles: COMPLIANCE_READERS,
    component: Vendors,
  },
  {
    path: '/compliance/controls',
    title: 'Controls',
    nav: 'Controls',
    group: 'compliance',
    roles: COMPLIANCE_READERS,
    component: Controls,
  },
  {
    path: '/compliance/integrations',
    title: 'Integrations',
    nav: 'Integrations',
    group: 'compliance',
    roles: COMPLIANCE_READERS,
    component: Integrations,
  },
];
