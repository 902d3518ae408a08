/**
 * The access operations (JIT grants, break-glass, access reviews), composed once
 * (src/platform.ts). The emergency alerter is a port: the composition root wires it to the
 * monitoring alert store, so this domain never imports monitoring's services.
 */
import { cryptoRandom, type Clock, type Random } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { SessionService } from '../identity/index.js';
import { AccessReviewService } from './access-review.service.js';
import { BreakGlassService, type EmergencyAlerter } from './break-glass.service.js';
import { GrantService } from './grant.service.js';

export interface AccessOps {
  readonly grants: GrantService;
  readonly breakGlass: BreakGlassService;
  readonly reviews: AccessReviewService;
}

export function composeAccessOps(
  db: Database,
  clock: Clock,
  sessions: SessionService,
  alert: EmergencyAlerter,
  random: Random = cryptoRandom,
): AccessOps {
  const uuid = (): string => random.uuid();
  return {
    grants: new GrantService(db, clock, uuid),
    breakGlass: new BreakGlassService(db, clock, uuid, alert),
    reviews: new AccessReviewService(db, clock, uuid, sessions),
  };
}

export { type Grant, type GrantState } from './grant.service.js';
export {
  activeBreakGlass,
  BREAK_GLASS_CATEGORIES,
  BREAK_GLASS_STEP_UP,
  type ActiveBreakGlass,
  type BreakGlassSession,
  type EmergencyAlerter,
} from './break-glass.service.js';
export {
  accessReviewEvidence,
  escalateAllOverdueReviews,
  escalateOverdueReviews,
  lastCompletedReview,
  type AccessReviewEvidence,
} from './access-review-evidence.js';
export { disableStaleAccounts, type StaleAccountReport } from './stale-accounts.js';
export { accessSettings, updateAccessSettings, type AccessSettings } from './access-settings.js';
export type { AccessCaller } from './access-caller.js';
