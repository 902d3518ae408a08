/**
 * The platform side of {@link ContainmentPorts}, over the identity and key-administration
 * services and the integration gate (the vendor/BAA module).
 */
import type { KeyAdmin } from '../crypto/key-admin.js';
import type { UserAdminService } from '../identity/index.js';
import type { ContainmentPorts } from './containment.service.js';
import type { IntegrationGate } from './integration-gate.js';

/** Session revocation reason recorded on the sessions ended by an incident. */
export const INCIDENT_REVOKE_REASON = 'incident';

/** Ending sessions and disabling accounts through identity's user administration. */
export function identityContainment(
  users: Pick<UserAdminService, 'endMemberSessions' | 'disableMember'>,
): Pick<ContainmentPorts, 'endSessions' | 'disableAccount'> {
  return {
    endSessions: (tx, tenantId, userId) =>
      users.endMemberSessions(tx, tenantId, userId, INCIDENT_REVOKE_REASON),
    disableAccount: (tx, tenantId, userId) =>
      users.disableMember(tx, tenantId, userId, INCIDENT_REVOKE_REASON),
  };
}

/**
 * A KEK rotation request under dual control (a second security administrator approves it with
 * `scrip keys approve` or the keys API); the request carries the incident and tenant ids.
 */
export function keyRotationContainment(
  keys: Pick<KeyAdmin, 'request'>,
): Pick<ContainmentPorts, 'requestKeyRotation'> {
  return {
    requestKeyRotation: async ({ tenantId, requestedBy, incidentId }) => {
      const r = await keys.request(
        'rotate_kek',
        { reason: 'incident', incidentId, tenantId },
        requestedBy,
      );
      return { requestId: r.id };
    },
  };
}

/**
 * Suspending an integration through the gate, so the network refuses to send through it from the
 * same commit; its audit record names the officer who ran the containment action.
 */
export function integrationContainment(
  gate: Pick<IntegrationGate, 'suspend'>,
): Pick<ContainmentPorts, 'suspendIntegration'> {
  return {
    suspendIntegration: async (tx, tenantId, integrationId, reason, actor) => {
      await gate.suspend(tx, tenantId, integrationId, reason, {
        kind: 'user',
        userId: actor.userId,
        sessionId: actor.sessionId,
        requestId: actor.requestId,
      });
    },
  };
}
