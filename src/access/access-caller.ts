import type { Caller } from '../identity/index.js';

/** The caller of an access operation, with the permissions the session resolved. */
export interface AccessCaller extends Caller {
  readonly permissions: ReadonlySet<string>;
}
