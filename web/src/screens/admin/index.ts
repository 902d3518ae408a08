import type { ScreenDef } from '../registry.js';
import { ContextPolicy } from './ContextPolicy.js';
import { EpcsApprove, EpcsPermissions } from './Epcs.js';
import { Grants } from './Grants.js';
import { Keys } from './Keys.js';
import { Users } from './Users.js';
import '../consoles.css';

/** The administrators' console (issue #10, point 6); roles as the server grants permissions. */
export const ADMIN_SCREENS: readonly ScreenDef[] = [
  {
    path: '/admin/users',
    title: 'Users and roles',
    nav: 'Users',
    group: 'admin',
    roles: ['tenant_admin', 'security_admin'],
    component: Users,
  },
  {
    path: '/admin/grants',
    title: 'Access grants',
    nav: 'Grants',
    group: 'admin',
    roles: ['security_admin'],
    component: Grants,
  },
  {
    path: '/admin/epcs',
    title: 'EPCS permissions',
    nav: 'EPCS permissions',
    group: 'admin',
    roles: ['tenant_admin'],
    component: EpcsPermissions,
  },
  {
    path: '/admin/epcs-approvals',
    title: 'EPCS approvals',
    nav: 'EPCS approvals',
    group: 'admin',
    roles: ['prescriber'],
    component: EpcsApprove,
  },
  {
    path: '/admin/context-policy',
    title: 'Context policy',
    nav: 'Context policy',
    group: 'admin',
    roles: ['security_admin'],
    component: ContextPolicy,
  },
  {
    path: '/admin/keys',
    title: 'Keys',
    nav: 'Keys',
    group: 'admin',
    roles: ['security_admin'],
    component: Keys,
  },
];
