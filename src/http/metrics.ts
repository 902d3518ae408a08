import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics. Labels are the method, the route template and the status: never a URL,
 * an id or anything a patient could be recognised by.
 */
export interface HttpMetrics {
  readonly registry: Registry;
  observe(method: string, route: string, status: number, seconds: number): void;
  /** Database clock minus server clock, measured at start (audit records carry both). */
  setClockSkew(ms: number): void;
}

export function createHttpMetrics(withDefaults = true): HttpMetrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'scrip_' });
  const requests = new Counter({
    name: 'scrip_http_requests_total',
    help: 'HTTP requests by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'scrip_http_request_duration_seconds',
    help: 'HTTP request duration by route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const skew = new Gauge({
    name: 'scrip_db_clock_skew_ms',
    help: 'Database clock minus server clock at start, in milliseconds',
    registers: [registry],
  });
  return {
    registry,
    setClockSkew(ms) {
      skew.set(ms);
    },
    observe(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
  };
}
