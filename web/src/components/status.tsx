import type { ReactNode } from 'react';
import { ApiError } from '../api/client.js';

/** An error as users see it: what happened in plain words and the request id, never internals. */
export function ErrorNote(props: { readonly error: unknown; readonly action?: string }): ReactNode {
  const e = props.error;
  const api = e instanceof ApiError ? e : undefined;
  const message = api === undefined ? 'Something went wrong.' : describe(api);
  return (
    <div className="note error" role="alert">
      <p>
        {props.action === undefined ? '' : `${props.action}: `}
        {message}
      </p>
      {api !== undefined && api.fields.length > 0 ? (
        <p>
          Check: <code>{api.fields.join(', ')}</code>
        </p>
      ) : null}
      {api !== undefined && api.requestId !== '' ? (
        <p className="request-id">
          Request id <code>{api.requestId}</code>
        </p>
      ) : null}
    </div>
  );
}

function describe(e: ApiError): string {
  switch (e.code) {
    case 'network':
      return 'The server could not be reached. Check the connection and try again.';
    case 'unauthenticated':
      return 'The sign-in was not accepted, or the session has ended.';
    case 'forbidden':
      return e.detail === 'csrf'
        ? 'The page is out of date. Reload it and try again.'
        : 'You are not allowed to do this.';
    case 'step_up_required':
      return 'Confirm it is you with a second factor first.';
    case 'rate_limited':
      return 'Too many attempts. Wait a minute and try again.';
    case 'validation_failed':
    case 'bad_request':
      return 'Some of the entries were not accepted. Check them and try again.';
    case 'conflict':
      return 'This changed in the meantime. Reload and try again.';
    case 'not_found':
      return 'Not found.';
    default:
      return e.status >= 500 ? 'The server had a problem. Try again shortly.' : e.message;
  }
}

export function Loading(props: { readonly label?: string }): ReactNode {
  return (
    <p className="note loading" role="status" aria-live="polite">
      {props.label ?? 'Loading…'}
    </p>
  );
}

export function Empty(props: { readonly children: ReactNode }): ReactNode {
  return <p className="note empty">{props.children}</p>;
}
