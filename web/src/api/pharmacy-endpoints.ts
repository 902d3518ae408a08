/**
 * The routes the pharmacist screens call (web/src/screens/pharmacy), by method and route
 * template. Plain data, checked against the server's route table by
 * test/web/pharmacy-drift.test.ts. Paths carry opaque ids only; the inbox list's query string
 * holds a status and paging numbers, never PHI.
 */
export const PHARMACY_ENDPOINTS = {
  inbox: ['GET', '/api/v1/pharmacy/inbox'],
  inboxItem: ['GET', '/api/v1/pharmacy/inbox/:id'],
  accept: ['POST', '/api/v1/pharmacy/inbox/:id/accept'],
  dispense: ['POST', '/api/v1/pharmacy/inbox/:id/dispense'],
  cancelResponse: ['POST', '/api/v1/pharmacy/inbox/:id/cancel-response'],
  renewalRequest: ['POST', '/api/v1/pharmacy/inbox/:id/renewal-request'],
  changeRequest: ['POST', '/api/v1/pharmacy/inbox/:id/change-request'],
} as const satisfies Record<string, readonly [string, `/api/v1/${string}`]>;
