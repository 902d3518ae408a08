import { Value } from '@sinclair/typebox/value';
import type { Static, TSchema } from '@sinclair/typebox';

/**
 * Minimum necessary (45 CFR 164.502(b), 164.514(d)): what part of a clinical record a role
 * receives. Routes keep one TypeBox schema per view and shape every record through
 * {@link shapeTo}, so a field not in the view's schema never leaves the server, whatever the
 * domain object carries.
 *
 * - `full`: the treating side (prescriber, agent, care coordinator): the whole record.
 * - `dispensing`: the pharmacy side: what a dispensing needs (identity, date of birth, address,
 *   phone, allergies, the prescription), no clinical history beyond it.
 * - `summary`: list views and anyone else with read access: identifiers and display fields.
 * - `none`: roles without clinical permissions (support, auditor, administrators).
 */
export type ClinicalView = 'full' | 'dispensing' | 'summary' | 'none';

const TREATING = ['prescriber', 'prescriber_agent', 'care_coordinator'];
const DISPENSING = ['pharmacist', 'pharmacy_technician'];

/** The widest view a principal's roles and permissions allow for a single record. */
export function clinicalView(
  who: { readonly roles: readonly string[]; readonly permissions: ReadonlySet<string> },
  readPermission: 'patient.read' | 'rx.read' = 'patient.read',
): ClinicalView {
  if (!who.permissions.has(readPermission)) return 'none';
  if (who.roles.some((r) => TREATING.includes(r))) return 'full';
  if (who.roles.some((r) => DISPENSING.includes(r))) return 'dispensing';
  return 'summary';
}

/** A list endpoint never returns more than summaries, whatever the role. */
export function listView(view: ClinicalView): ClinicalView {
  return view === 'none' ? 'none' : 'summary';
}

/**
 * Copies `value` keeping only what `schema` declares (nested objects and arrays included);
 * undeclared properties are dropped, never passed through.
 */
export function shapeTo<S extends TSchema>(schema: S, value: unknown): Static<S> {
  return Value.Clean(schema, Value.Clone(value));
}
