import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api } from '../api/client.js';
import type { Me } from '../session.js';
import { ErrorNote, Loading } from './status.js';

/**
 * Small helpers the compliance and administration consoles share: loading a resource with its
 * loading/error states, permission checks (a button a role cannot use is not shown), time
 * formatting, and Blob downloads (file names carry ids and dates, never PHI).
 */

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** GETs `path` (null: nothing yet) and again whenever `reload` is called or the path changes. */
export function useLoad<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return undefined;
    const ctl = new AbortController();
    setLoading(true);
    setError(undefined);
    api
      .get<T>(path, { signal: ctl.signal })
      .then((d) => {
        setData(d);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (err instanceof DOMException && err.name === 'AbortError') return;
        setError(err);
        setLoading(false);
      });
    return () => {
      ctl.abort();
    };
  }, [path, tick]);
  const reload = useCallback(() => {
    setTick((t) => t + 1);
  }, []);
  return { data, error, loading, reload };
}

/** The loading and error states of a Loaded resource; the children once it is there. */
export function LoadState<T>(props: {
  readonly loaded: Loaded<T>;
  readonly what: string;
  readonly children: (data: T) => ReactNode;
}): ReactNode {
  const { data, error, loading } = props.loaded;
  if (error !== undefined) return <ErrorNote error={error} action={`Loading ${props.what}`} />;
  if (data === undefined || loading) {
    return data === undefined ? <Loading label={`Loading ${props.what}…`} /> : props.children(data);
  }
  return props.children(data);
}

export function can(me: Me, permission: string): boolean {
  return me.permissions.includes(permission);
}

/** A date-time as people read it (local time, minutes). */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** Saves `content` as a file through a Blob URL (no data in the page's URL). */
export function download(fileName: string, content: string, type = 'application/json'): void {
  const blob = new Blob([content], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}

/** Runs an action with a busy flag and an error; returns a [run, busy, error, clear] tuple. */
export function useAction(): {
  readonly busy: boolean;
  readonly error: unknown;
  readonly run: (fn: () => Promise<void>) => Promise<void>;
  readonly clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(undefined);
  }, []);
  return { busy, error, run, clear };
}

/** The server's own words for a refusal it explains (a 409 with a detail), else undefined. */
export function serverReason(err: unknown): string | undefined {
  return err instanceof ApiError && err.status === 409 && err.detail !== undefined
    ? err.detail
    : undefined;
}

/** A short id for tables: the first 8 characters of a UUID (the full id in a title). */
export function ShortId(props: { readonly id: string | null }): ReactNode {
  if (props.id === null) return '—';
  return (
    <code className="short-id" title={props.id}>
      {props.id.slice(0, 8)}
    </code>
  );
}

/** A yes/no/state badge: text, never color alone. */
export function Badge(props: {
  readonly tone: 'ok' | 'warn' | 'error' | 'neutral';
  readonly children: ReactNode;
}): ReactNode {
  return <span className={`badge badge-${props.tone}`}>{props.children}</span>;
}

/** What a completed action did, announced politely to screen readers. */
export function Success(props: { readonly children: ReactNode }): ReactNode {
  return (
    <p className="note ok" role="status">
      {props.children}
    </p>
  );
}

/** Today as YYYY-MM-DD in the browser's local time (date inputs' `max`/`min`). */
export function localDay(offsetDays = 0): string {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${String(d.getFullYear())}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
