import { Type } from '@sinclair/typebox';
import { defineRoute, type RouteDef } from '../route.js';

/** The OpenAPI 3.1 document, generated from the route schemas (never written by hand). */
export function metaRoutes(document: () => unknown): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/openapi.json',
      permission: 'public',
      summary: 'OpenAPI 3.1 description of this API',
      tags: ['meta'],
      schema: { response: { 200: Type.Object({}, { additionalProperties: true }) } },
      handler: async () => document(),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/whoami',
      permission: 'authenticated',
      summary: 'The signed-in principal',
      tags: ['meta'],
      schema: {
        response: {
          200: Type.Object({
            userId: Type.String(),
            tenantId: Type.String(),
            sessionId: Type.String(),
          }),
        },
      },
      handler: async (request) => {
        const p = request.principal;
        if (p === undefined)
          throw new TypeError('permission hook let an anonymous request through');
        return { userId: p.userId, tenantId: p.tenantId, sessionId: p.sessionId };
      },
    }),
  ];
}
