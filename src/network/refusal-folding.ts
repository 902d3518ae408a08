/**
 * Folding of repeated connection refusals before they are audited: a scanner hammering an mTLS
 * port must not turn into an audit-log flood (each append serialises on the log's head). One
 * record per (reason, source address) per window; the next record carries how many refusals were
 * folded since the previous one, so the count is never lost.
 */

/** The window in which further refusals of one reason from one address are folded. */
export const REFUSAL_AUDIT_WINDOW_MS = 10_000;
/** Distinct (reason, address) keys remembered; past this the memory starts afresh. */
const MAX_KEYS = 10_000;

/** Called once per window and key: `folded` counts the refusals not recorded since the last. */
export type RefusalRecorder = (reason: string, ip: string | undefined, folded: number) => void;

/** Wraps `record` so that repeated refusals within the window are counted, not recorded. */
export function foldRefusals(
  record: RefusalRecorder,
  windowMs = REFUSAL_AUDIT_WINDOW_MS,
  now: () => number = Date.now,
): (reason: string, ip: string | undefined) => void {
  const last = new Map<string, { at: number; folded: number }>();
  return (reason, ip) => {
    const key = `${reason}|${ip ?? '?'}`;
    const t = now();
    const seen = last.get(key);
    if (seen !== undefined && t - seen.at < windowMs) {
      seen.folded += 1;
      return;
    }
    if (last.size >= MAX_KEYS) last.clear();
    last.set(key, { at: t, folded: 0 });
    record(reason, ip, seen?.folded ?? 0);
  };
}
