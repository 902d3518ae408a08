import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { HttpMetrics } from './metrics.js';

/**
 * Listening and stopping, kept apart from buildApp(). Graceful stop: refuse new connections,
 * let in-flight requests finish (Fastify answers 503 to requests arriving while closing), then
 * close idle keep-alive sockets.
 */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<string[]> {
  await app.listen({ host, port });
  return app
    .addresses()
    .map((a) =>
      typeof a === 'string'
        ? a
        : a.family === 'IPv6'
          ? `[${a.address}]:${String(a.port)}`
          : `${a.address}:${String(a.port)}`,
    );
}

/** Prometheus scrape endpoint on loopback only; plain HTTP because it never leaves the host. */
export async function startMetricsServer(metrics: HttpMetrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry
      .metrics()
      .then((body) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body);
      })
      .catch(() => {
        res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve();
    });
  });
  return server;
}

export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeIdleConnections();
  });
}
