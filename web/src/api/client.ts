/**
 * The one way the app talks to the server: same-origin fetch to /api/v1, JSON in and out, the
 * CSRF token on every unsafe method (read from the `__Host-scrip_csrf` cookie the server sets at
 * sign-in; src/http/session-auth.ts), and RFC 9457 problem answers turned into ApiError with the
 * request id. Nothing is ever written to browser storage; no PHI goes into a URL (searches are
 * POST bodies; paths carry opaque ids only).
 */

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly requestId: string;
  readonly detail?: string;
  readonly errors?: readonly { in: string; path: string; rule: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string;
  readonly detail: string | undefined;
  /** The entries a validation failure names (schema paths as dotted names, or the field). */
  readonly fields: readonly string[];

  constructor(status: number, problem: Partial<Problem>, requestId: string) {
    super(problem.title ?? `Request failed (${String(status)})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code ?? (status === 0 ? 'network' : 'unknown');
    this.requestId = problem.requestId ?? requestId;
    this.detail = problem.detail;
    const paths = (problem.errors ?? [])
      .map((e) => e.path.replace(/^\//, '').replace(/\//g, '.'))
      .filter((p) => p !== '');
    this.fields =
      this.code === 'validation_failed'
        ? [
            ...new Set(
              paths.length > 0 ? paths : problem.detail === undefined ? [] : [problem.detail],
            ),
          ]
        : [];
  }

  /** The server wants a fresh second factor for this action (detail names the action). */
  get stepUpAction(): string | undefined {
    return this.code === 'step_up_required' ? this.detail : undefined;
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const CSRF_COOKIE = '__Host-scrip_csrf';

export function csrfToken(): string {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CSRF_COOKIE) return part.slice(eq + 1).trim();
  }
  return '';
}

/** Listeners told of every answer (the idle timer restarts; a 401 signs the app out). */
type Listener = (status: number) => void;
const listeners = new Set<Listener>();
export function onApiAnswer(l: Listener): () => void {
  listeners.add(l);
  return () => {
    listeners.delete(l);
  };
}

/** Fills `:name` segments of a route template with encoded ids. */
export function fill(template: string, params: Readonly<Record<string, string>> = {}): string {
  return template.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(v);
  });
}

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  init: { readonly signal?: AbortSignal } = {},
): Promise<T> {
  if (!path.startsWith('/api/v1/')) throw new TypeError('API paths start with /api/v1/');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(init.signal === undefined ? {} : { signal: init.signal }),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, { title: 'The server could not be reached' }, '');
  }
  const requestId = res.headers.get('x-request-id') ?? '';
  for (const l of listeners) l(res.status);
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    const problem =
      typeof parsed === 'object' && parsed !== null ? (parsed as Partial<Problem>) : {};
    throw new ApiError(res.status, problem, requestId);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, init?: { signal?: AbortSignal }) =>
    request<T>('GET', path, undefined, init),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};
