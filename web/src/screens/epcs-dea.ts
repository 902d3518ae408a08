/**
 * The DEA registration the EPCS screen signs with when the prescriber has not picked one: the
 * one the reviewed prescriptions carry (chosen when each was marked ready, and what the server
 * will compare), never simply the first of the prescriber's registrations. Selected ready items
 * first, then any ready item, then the only registration.
 */
export function defaultDeaNumber(
  items: readonly {
    readonly id: string;
    readonly status: string;
    readonly deaNumber: string | null;
  }[],
  selected: ReadonlySet<string>,
  deaNumbers: readonly string[],
): string {
  const ready = items.filter((i) => i.status === 'ready' && i.deaNumber !== null);
  const reviewed = ready.find((i) => selected.has(i.id)) ?? ready[0];
  return reviewed?.deaNumber ?? (deaNumbers.length === 1 ? (deaNumbers[0] ?? '') : '');
}
