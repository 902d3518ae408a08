/**
 * Compile-time drift check between the pharmacist screens' types
 * (web/src/screens/pharmacy/types.ts) and the server's TypeBox schemas
 * (src/http/routes/pharmacy-inbox.schemas.ts), like client-types.ts: the root typecheck fails
 * when they part. Answers: what the server sends must fit what the screens read. Bodies: what
 * the screens send must fit what the server accepts.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type {
  CancelAnswerBody,
  ChangeBody,
  DispenseBody,
  InboxDispensing,
  InboxSummary,
  RenewalBody,
} from '../../src/http/routes/pharmacy-inbox.schemas.js';
import type * as Web from '../../web/src/screens/pharmacy/types.js';

/** `true` when A is assignable to B; `never` (a type error where `true` is given) otherwise. */
type Fits<A, B> = [A] extends [B] ? true : never;
type Answer<S extends TSchema, W> = Fits<Static<S>, W>;
type Body<W, S extends TSchema> = Fits<W, Static<S>>;

export const answers: readonly true[] = [
  true satisfies Answer<typeof InboxSummary, Web.InboxSummary>,
  true satisfies Answer<typeof InboxDispensing, Web.InboxItem>,
];

export const bodies: readonly true[] = [
  true satisfies Body<Web.DispenseBody, typeof DispenseBody>,
  true satisfies Body<Web.CancelAnswerBody, typeof CancelAnswerBody>,
  true satisfies Body<Web.RenewalBody, typeof RenewalBody>,
  true satisfies Body<Web.ChangeBody, typeof ChangeBody>,
];
