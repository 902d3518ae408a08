/**
 * Compile-time drift check between the web app's types (web/src/api/types.ts) and the server's
 * TypeBox schemas: `npm run typecheck` (root tsconfig) fails when they part. Answers: what the
 * server sends must fit what the app reads. Bodies: what the app sends must fit what the server
 * accepts.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type {
  AllergyView,
  CareTeamMemberView,
  MedicationView,
  PatientFullView,
  PatientSummaryView,
} from '../../src/prescribing/patient.views.js';
import type {
  DraftBody,
  Finding,
  PatchBody,
  Practice,
  ReadyBody,
  RxFull,
  RxSummary,
} from '../../src/http/routes/prescriptions.schemas.js';
import type { OwnSessionView } from '../../src/http/routes/own-sessions.routes.js';
import type { Passkey } from '../../src/http/routes/webauthn.schemas.js';
import type {
  CallbackAnswer,
  CompleteBody,
  DiscoverAnswer,
} from '../../src/http/routes/sso.routes.js';
import type { FailedTransmissions } from '../../src/http/routes/network.routes.js';
import type * as Web from '../../web/src/api/types.js';

/** `true` when A is assignable to B; `never` (a type error where `true` is given) otherwise. */
type Fits<A, B> = [A] extends [B] ? true : never;
type Answer<S extends TSchema, W> = Fits<Static<S>, W>;
type Body<W, S extends TSchema> = Fits<W, Static<S>>;

export const answers: readonly true[] = [
  true satisfies Answer<typeof PatientSummaryView, Web.PatientSummary>,
  true satisfies Answer<typeof PatientFullView, Web.PatientFull>,
  true satisfies Answer<typeof AllergyView, Web.Allergy>,
  true satisfies Answer<typeof MedicationView, Web.Medication>,
  true satisfies Answer<typeof CareTeamMemberView, Web.CareTeamMember>,
  true satisfies Answer<typeof RxSummary, Web.RxSummary>,
  // `practice` is left out: its text fields are typed `TSchema` on the server (Static: unknown).
  true satisfies Answer<typeof RxFull, Omit<Web.Rx, 'practice'>>,
  true satisfies Answer<typeof Finding, Web.Finding>,
  true satisfies Answer<typeof Passkey, Web.Passkey>,
  true satisfies Answer<typeof DiscoverAnswer, Web.SsoDiscovery>,
  true satisfies Answer<typeof CallbackAnswer, Web.SsoCallbackAnswer>,
  true satisfies Answer<typeof OwnSessionView, Web.OwnSession>,
  true satisfies Answer<typeof FailedTransmissions, Web.TransmissionFailures>,
];

export const bodies: readonly true[] = [
  true satisfies Body<Web.DraftBody, typeof DraftBody>,
  true satisfies Body<Web.ReadyBody, typeof ReadyBody>,
  true satisfies Body<Web.RxPatch, typeof PatchBody>,
  true satisfies Body<Web.Practice, typeof Practice>,
  true satisfies Body<Web.SsoCompleteBody, typeof CompleteBody>,
];

// The check can fail: a field the server never sends is caught.
// @ts-expect-error: the server's summary has no `ssn`
export const drift: true = true satisfies Answer<typeof RxSummary, Web.RxSummary & { ssn: string }>;
