import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import type { Config, Logger } from '../config/index.js';
import type { Database } from '../db/index.js';
import { AppError } from '../core/index.js';
import { currentAuditContext, runWithAuditContext } from '../audit/index.js';
import { noAuthentication, type Authenticator, type ContextCheck } from './auth.js';
import { createHttpMetrics, type HttpMetrics } from './metrics.js';
import { notFound, sendProblem, toProblem } from './problem.js';
import type { RouteDef } from './route.js';
import { applySecurityHeaders } from './security-headers.js';
import { validatorCompiler } from './validation.js';
import { healthRoutes } from './routes/health.routes.js';
import { TLS_CIPHERS, TLS_MAX_VERSION, TLS_MIN_VERSION } from '../crypto/tls-policy.js';
import { metaRoutes } from './routes/meta.routes.js';
import { isWebRequest, sendWebAsset, type WebAssets } from './web-static.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly authenticator?: Authenticator;
  readonly metrics?: HttpMetrics;
  /** TLS key and certificate; absent only for `app.inject()` tests or SCRIP_INSECURE_HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Context policy (networks, device, hours) checked on every authenticated request. */
  readonly contextGate?: ContextCheck;
  /** Routes beyond the built-in ones (domains add theirs here). */
  readonly routes?: readonly RouteDef[];
  /** The built web app (src/http/web-static.ts), served at every path outside the API. */
  readonly web?: WebAssets;
}

export const API_PREFIX = '/api/v1';

/** Permissions every signed-in principal holds by being signed in. */
const IMPLIED_BY_SIGN_IN: ReadonlySet<string> = new Set(['authenticated', 'session']);

/** The TLS policy (src/crypto/tls-policy.ts), re-exported for existing importers. */
export { TLS_CIPHERS };

function trustProxy(config: Config): FastifyServerOptions['trustProxy'] {
  const list = config.SCRIP_TRUST_PROXY?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return list === undefined || list.length === 0 ? false : list;
}

function baseOptions(deps: AppDeps): FastifyServerOptions {
  const { config } = deps;
  return {
    loggerInstance: deps.logger,
    // Our own request line (route template only, never the URL or headers) replaces Fastify's.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: config.SCRIP_BODY_LIMIT_BYTES,
    requestTimeout: config.SCRIP_REQUEST_TIMEOUT_MS,
    connectionTimeout: config.SCRIP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    trustProxy: trustProxy(config),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    exposeHeadRoutes: false,
  };
}

/** Builds the application without listening (tests use `inject`; src/http/server.ts listens). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const options = baseOptions(deps);
  const app =
    deps.tls === undefined
      ? Fastify(options)
      : Fastify({
          ...options,
          https: {
            key: deps.tls.key,
            cert: deps.tls.cert,
            minVersion: TLS_MIN_VERSION,
            maxVersion: TLS_MAX_VERSION,
            ciphers: TLS_CIPHERS,
            honorCipherOrder: true,
            ecdhCurve: 'X25519:P-256:P-384',
          },
        } as FastifyServerOptions);
  const authenticator = deps.authenticator ?? noAuthentication;
  const metrics = deps.metrics ?? createHttpMetrics(false);
  const hsts = deps.tls !== undefined || deps.config.SCRIP_INSECURE_HTTP;

  app.removeContentTypeParser('text/plain');
  // Form bodies only where a route asks for them (FHIR search); a flat map of single values.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (request, body, done) => {
      if (request.routeOptions.config.formBody !== true) {
        done(new AppError('unsupported_media_type', 'form bodies are not accepted here'));
        return;
      }
      const out: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(body as string)) {
        if (Object.hasOwn(out, k) || k === '__proto__') {
          done(new AppError('bad_request', 'repeated or reserved form field', { detail: 'form' }));
          return;
        }
        out[k] = v;
      }
      done(null, out);
    },
  );
  app.setValidatorCompiler(validatorCompiler);
  app.decorateRequest('principal', undefined);

  const table: RouteInfo[] = [];
  app.decorate('scripRoutes', table);
  // Default deny: a route without a declared permission or response schema stops the start.
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (permission === undefined) {
      throw new TypeError(`route ${String(route.method)} ${route.url} declares no permission`);
    }
    if (route.schema?.response === undefined) {
      throw new TypeError(`route ${String(route.method)} ${route.url} declares no response schema`);
    }
    table.push({
      method: String(route.method),
      url: route.url,
      permission,
      ...(route.config?.stepUp === undefined ? {} : { stepUp: route.config.stepUp }),
    });
  });

  // Every audit record this request writes names its source, user agent and request id, and
  // (once authenticated) the user's role and session: src/audit/audit-context.ts. A callback
  // hook, so the context spans the later hooks and the handler.
  app.addHook('onRequest', (request, _reply, done) => {
    const ua = request.headers['user-agent'];
    runWithAuditContext(
      {
        ip: request.ip,
        requestId: request.id,
        ...(typeof ua === 'string' ? { userAgent: ua } : {}),
      },
      done,
    );
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    const permission = request.routeOptions.config.permission;
    if (permission === undefined || permission === 'public') return;
    const principal = await authenticator.authenticate(request);
    if (principal === undefined) throw new AppError('unauthenticated', 'no valid session');
    if (principal.restricted === true && permission !== 'session') {
      throw new AppError('forbidden', 'enrol a second factor first', {
        detail: 'mfa_enrolment_required',
      });
    }
    if (!IMPLIED_BY_SIGN_IN.has(permission) && !principal.permissions.has(permission)) {
      throw new AppError('forbidden', 'permission denied');
    }
    request.principal = principal;
    const auditContext = currentAuditContext();
    if (auditContext !== undefined) {
      auditContext.userId = principal.userId;
      auditContext.sessionId = principal.sessionId;
      auditContext.tenantId = principal.tenantId;
      auditContext.roles = principal.roles;
    }
    // Sign-out, session info, enrolment and the step-up answers themselves stay reachable, so a
    // user asked to step up (or to leave) can do so.
    if (
      deps.contextGate !== undefined &&
      permission !== 'session' &&
      request.routeOptions.config.context !== 'exempt'
    ) {
      await deps.contextGate.check(request, principal);
    }
  });

  // The step-up is single use, so it is consumed only once the request has passed validation: a
  // malformed body answers 400 and leaves the step-up for the corrected request.
  app.addHook('preHandler', async (request) => {
    const stepUp = request.routeOptions.config.stepUp;
    if (stepUp === undefined) return;
    const principal = request.principal;
    if (principal === undefined || authenticator.requireStepUp === undefined) {
      throw new AppError('step_up_required', 'step-up required', { detail: stepUp });
    }
    await authenticator.requireStepUp(principal, stepUp);
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    applySecurityHeaders(reply, hsts);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.observe(request.method, route, reply.statusCode, seconds);
    request.log.info(
      {
        method: request.method,
        route,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler((err, request, reply) => {
    const { body, internalError } = toProblem(err, request.id);
    if (internalError) request.log.error({ err }, 'request failed');
    else request.log.info({ code: body.code, status: body.status }, 'request rejected');
    return sendProblem(reply, body);
  });
  const web = deps.web;
  app.setNotFoundHandler(
    web === undefined
      ? notFound
      : (request, reply) =>
          (isWebRequest(request) ? sendWebAsset(web, request, reply) : undefined) ??
          notFound(request, reply),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Scrip API', version: '1', description: 'Scrip e-prescribing API' },
      components: {},
    },
  });

  const routes: RouteDef[] = [
    ...healthRoutes(deps.db, deps.config.SCRIP_KEY_MAX_AGE_DAYS),
    ...metaRoutes(() => app.swagger()),
    ...(deps.routes ?? []),
  ];
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      config: {
        permission: r.permission,
        ...(r.stepUp === undefined ? {} : { stepUp: r.stepUp }),
        ...(r.context === undefined ? {} : { context: r.context }),
        ...(r.formBody === true ? { formBody: true } : {}),
      },
      schema: {
        ...r.schema,
        summary: r.summary,
        tags: [...r.tags],
        'x-permission': r.permission,
        ...(r.stepUp === undefined ? {} : { 'x-step-up': r.stepUp }),
      } as never,
      handler: r.handler,
    });
  }
  await app.ready();
  return app;
}

/** A registered route and its declared permission (`scrip routes`, the authorization matrix). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly permission: string;
  readonly stepUp?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    scripRoutes: readonly RouteInfo[];
  }
}
