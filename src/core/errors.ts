/**
 * The one error type domains throw. `code` is a closed union so that `switch (err.code)` narrows
 * and the HTTP layer can map every code to a status in one place (src/http/problem.ts).
 * Messages are for operators and must never carry PHI, secrets or SQL.
 * Programmer misuse throws `TypeError` instead.
 */
export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthenticated'
  | 'forbidden'
  | 'step_up_required'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'integrity_error'
  | 'shredded'
  | 'config_invalid'
  | 'unavailable'
  | 'internal';

export interface AppErrorOptions {
  /** Extra, non-PHI details safe to show to the caller (e.g. a field name). */
  readonly detail?: string;
  readonly cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = options.detail;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
