/**
 * The choices the compliance forms offer are copies of server catalogs (the web app cannot import
 * src/): the built-in roles of an access-review scope, and the kinds of PHI of a breach notice.
 * A role or PHI kind added, renamed or removed on the server fails here before a form offers a
 * choice the server refuses, or hides one it accepts.
 */
import { describe, expect, it } from 'vitest';
import { ROLES as SERVER_ROLES } from '../../src/access/role-catalog.js';
import { PHI_TYPES as SERVER_PHI_TYPES } from '../../src/compliance/breach-letter.js';
import { PHI_TYPES, ROLES } from '../../web/src/screens/compliance/catalogs.js';

describe('the compliance forms’ choices match the server’s catalogs', () => {
  it('offers exactly the built-in roles as an access-review scope', () => {
    expect([...ROLES].sort()).toEqual([...SERVER_ROLES].sort());
  });

  it('offers exactly the server’s kinds of PHI, with its wording', () => {
    expect(Object.fromEntries(PHI_TYPES)).toEqual(SERVER_PHI_TYPES);
  });
});
