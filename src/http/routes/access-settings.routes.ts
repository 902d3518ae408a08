import { Type } from '@sinclair/typebox';
import type { Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import {
  accessSettings,
  BREAK_GLASS_MAX_MINUTES,
  GRANT_MAX_MINUTES,
  updateAccessSettings,
} from '../../access/access-settings.js';
import { defineRoute, type RouteDef } from '../route.js';
import { accessCaller } from './access-common.js';
import { requestMeta } from './auth.routes.js';

const Settings = Type.Object({
  grantMaxMinutes: Type.Integer(),
  breakGlassMinutes: Type.Integer(),
  breakGlassWriteAllowed: Type.Boolean(),
});

/** The step-up action a settings change needs. */
export const ACCESS_SETTINGS_CHANGE = 'access.settings.change';

/** The tenant's access-operation settings (permission access.policy); changes are audited. */
export function accessSettingsRoutes(db: Database, clock: Clock): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/settings',
      permission: 'access.policy',
      summary: 'Grant length limit and break-glass time box and writes',
      tags: ['access'],
      schema: { response: { 200: Settings } },
      handler: async (request) => {
        const t = accessCaller(request).tenantId;
        return db.withTenant(t, (tx) => accessSettings(tx, t));
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/access/settings',
      permission: 'access.policy',
      // It can allow writes under break-glass: the same weight as a context-policy change.
      stepUp: ACCESS_SETTINGS_CHANGE,
      summary: 'Change the access-operation settings (audited); needs a step-up',
      tags: ['access'],
      schema: {
        body: Type.Object(
          {
            grantMaxMinutes: Type.Optional(
              Type.Integer({ minimum: 1, maximum: GRANT_MAX_MINUTES }),
            ),
            breakGlassMinutes: Type.Optional(
              Type.Integer({ minimum: 1, maximum: BREAK_GLASS_MAX_MINUTES }),
            ),
            breakGlassWriteAllowed: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Settings },
      },
      handler: async (request) => {
        const c = accessCaller(request);
        return updateAccessSettings(
          db,
          clock,
          c.tenantId,
          c,
          request.body as Record<string, unknown>,
          requestMeta(request),
        );
      },
    }),
  ];
}
