import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type ErrorCode } from '../core/index.js';

/**
 * The one place where error codes become HTTP: RFC 9457 `application/problem+json` with a
 * stable `code`, a fixed title per code and the request id. A 5xx never carries the error's
 * message, SQL or a stack; a 4xx from the framework never echoes input (a JSON parse error
 * message quotes the body, so it is replaced too).
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  requestId: string;
  detail?: string;
  errors?: { in: string; path: string; rule: string }[];
}

/**
 * {@link Problem} as a response schema, for routes that answer a problem with extra members of
 * their own (e.g. `Type.Composite([ProblemSchema, Type.Object({ candidates })])`).
 */
export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  requestId: Type.String(),
  detail: Type.Optional(Type.String()),
});

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  step_up_required: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  integrity_error: 500,
  shredded: 410,
  config_invalid: 500,
  unavailable: 503,
  internal: 500,
};

const TITLE: Record<ErrorCode, string> = {
  bad_request: 'Bad request',
  validation_failed: 'The request did not match the schema',
  unauthenticated: 'Authentication required',
  forbidden: 'Not allowed',
  step_up_required: 'A fresh second factor is required',
  not_found: 'Not found',
  conflict: 'Conflict',
  gone: 'Gone',
  payload_too_large: 'Request body too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  integrity_error: 'Internal error',
  shredded: 'The data was destroyed',
  config_invalid: 'Internal error',
  unavailable: 'Service unavailable',
  internal: 'Internal error',
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

export function problem(code: ErrorCode, requestId: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `urn:scrip:problem:${code}`,
    title: TITLE[code],
    status: STATUS[code],
    code,
    requestId,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply
    .code(body.status)
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify(body));
}

/** Fastify's own 4xx error codes, mapped without their messages. */
function frameworkCode(err: FastifyError): ErrorCode | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    default:
      break;
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  if (status === 404) return 'not_found';
  if (status >= 400 && status < 500) return 'bad_request';
  return undefined;
}

/** Maps any thrown value to a problem; `internalError` is true when it must be logged as a 5xx. */
export function toProblem(
  err: unknown,
  requestId: string,
): { body: Problem; internalError: boolean } {
  if (isAppError(err)) {
    const status = STATUS[err.code];
    const detail = status < 500 && err.detail !== undefined ? { detail: err.detail } : {};
    return { body: problem(err.code, requestId, detail), internalError: status >= 500 };
  }
  const fe = err as FastifyError;
  if (Array.isArray(fe.validation)) {
    const where = fe.validationContext ?? 'body';
    const errors = fe.validation.map((v) => ({
      in: where,
      path: v.instancePath === '' ? '/' : v.instancePath,
      rule: v.keyword,
    }));
    return { body: problem('validation_failed', requestId, { errors }), internalError: false };
  }
  if (fe instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return {
      body: problem('bad_request', requestId, { detail: 'malformed JSON body' }),
      internalError: false,
    };
  }
  const code = frameworkCode(fe);
  if (code !== undefined) return { body: problem(code, requestId), internalError: false };
  return { body: problem('internal', requestId), internalError: true };
}

export function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, problem('not_found', request.id));
}
