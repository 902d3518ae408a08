import { destination, pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/**
 * JSON logs without PHI. The first defence is what is logged at all: request lines carry the
 * route template, never the URL, query string, headers or body (src/http/app.ts). This redaction
 * list is the second: credentials and every PHI-bearing field name, at the top level and one
 * level down, are censored wherever they appear.
 */
const SENSITIVE = [
  'authorization',
  'cookie',
  'set-cookie',
  'password',
  'passcode',
  'token',
  'secret',
  'pin',
  'totp',
  'otp',
  'name',
  'firstName',
  'lastName',
  'givenName',
  'familyName',
  'fullName',
  'patientName',
  'dob',
  'dateOfBirth',
  'birthDate',
  'mrn',
  'ssn',
  'address',
  'phone',
  'email',
  'allergies',
  'sig',
  'directions',
  'notes',
  'diagnosis',
  'patient',
];

export const REDACT_PATHS: string[] = [
  'req.headers',
  'res.headers',
  'headers',
  'body',
  'query',
  ...SENSITIVE.flatMap((k) => [k, `*.${k}`]),
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: 'scrip' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: safeError,
      error: safeError,
    },
  };
}

/**
 * Errors are logged by type, code and stack frames. Messages of foreign errors can quote input
 * (JSON.parse quotes the body, PostgreSQL's detail quotes key values), so they are dropped.
 */
export function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const e = err as Error & { code?: unknown; statusCode?: unknown };
  const frames = (e.stack ?? '')
    .split('\n')
    .filter((l) => l.trimStart().startsWith('at '))
    .slice(0, 15);
  const out: Record<string, unknown> = { type: e.name, stack: frames.join('\n') };
  if (typeof e.code === 'string') out.code = e.code;
  if (e.name === 'AppError') out.message = e.message; // ours: PHI-free by contract
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination === undefined
    ? pino(loggerOptions(level))
    : pino(loggerOptions(level), destination);
}

/**
 * The logger of a one-shot CLI command: warnings and errors only (unless a finer level is set),
 * on standard error, so that standard output carries nothing but the command's own output (JSON
 * that scripts parse).
 */
export function createCliLogger(level: string): Logger {
  return createLogger(level === 'info' ? 'warn' : level, destination({ dest: 2, sync: true }));
}

export type { Logger };
