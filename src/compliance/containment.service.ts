/**
 * Containment actions run from an incident against the platform itself (45 CFR
 * 164.308(a)(6)(ii): mitigate, to the extent practicable, harmful effects; NIST SP 800-61r2
 * §3.3): end a user's sessions and tokens, disable an account, suspend an integration, start a
 * key rotation. Each is a timeline entry and an audit record.
 *
 * The platform operations come through {@link ContainmentPorts} (composed in main.ts from the
 * identity, integration and key-administration services), so the incident code never reaches
 * into another domain's tables. Ending sessions, disabling an account and suspending an
 * integration run in the incident's transaction: the effect, the timeline entry and the audit
 * record commit together or not at all. A key rotation is a dual-control request (src/crypto/
 * key-admin.ts) with a platform transaction and audit record of its own; the incident records
 * the request id once the request exists, and a second security administrator approves it.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import {
  appendTimeline,
  assertOpen,
  lockIncident,
  type TimelineEntry,
} from './incident-timeline.js';
import { narrativeCipher, type Narrative } from './incident-narrative.js';
import { auditProgram, checkId, checkText, type ProgramActor } from './program-common.js';

/** What the incident service needs from the rest of the platform. */
export interface ContainmentPorts {
  /**
   * Ends every session and bearer token of `userId` in `tenantId`, inside `tx` (which runs in that
   * tenant). Returns how many ended; `not_found` when the user is not a member of the tenant.
   */
  endSessions(tx: Tx, tenantId: TenantId, userId: string): Promise<number>;
  /**
   * Disables the account (no sign-in anywhere) and ends its sessions in `tenantId`, inside `tx`.
   * `not_found` when the user is not a member; `conflict` when the tenant may not disable it
   * (its home tenant is another one).
   */
  disableAccount(tx: Tx, tenantId: TenantId, userId: string): Promise<{ endedSessions: number }>;
  /**
   * Suspends the integration `integrationId` (its record id) of `tenantId` inside `tx` (no PHI
   * leaves through it until it is re-enabled), recorded as done by `actor`. `not_found` for an
   * unknown or retired integration.
   */
  suspendIntegration(
    tx: Tx,
    tenantId: TenantId,
    integrationId: string,
    reason: string,
    actor: ProgramActor,
  ): Promise<void>;
  /** Files a dual-control key rotation request (its own transaction); returns its id. */
  requestKeyRotation(request: {
    readonly tenantId: TenantId;
    readonly requestedBy: string;
    readonly incidentId: string;
  }): Promise<{ readonly requestId: string }>;
}

export const CONTAINMENT_ACTIONS = [
  'end_sessions',
  'disable_account',
  'suspend_integration',
  'rotate_keys',
] as const;
export type ContainmentAction = (typeof CONTAINMENT_ACTIONS)[number];

export type ContainmentRequest =
  | { readonly action: 'end_sessions'; readonly userId: string }
  | { readonly action: 'disable_account'; readonly userId: string }
  | { readonly action: 'suspend_integration'; readonly integrationId: string }
  | { readonly action: 'rotate_keys' };

export interface ContainmentResult {
  readonly action: ContainmentAction;
  /** The user id, integration id or key request id acted on. */
  readonly target: string;
  readonly endedSessions: number | null;
  readonly keyRequestId: string | null;
  readonly entry: TimelineEntry;
}

export class ContainmentService {
  readonly #narrative: Narrative;

  constructor(
    private readonly db: Database,
    keyring: Keyring,
    private readonly clock: Clock,
    private readonly ports: ContainmentPorts,
  ) {
    this.#narrative = narrativeCipher(keyring);
  }

  /** Runs one containment action from incident `incidentId` (which must not be closed). */
  async run(
    actor: ProgramActor,
    incidentId: string,
    request: ContainmentRequest,
    note?: string,
  ): Promise<ContainmentResult> {
    checkId('incident', incidentId);
    const text = note === undefined ? null : checkText('note', note, 1, 2000);
    switch (request.action) {
      case 'end_sessions':
      case 'disable_account': {
        checkId('user', request.userId);
        if (request.action === 'disable_account' && request.userId === actor.userId) {
          throw new AppError('forbidden', 'nobody disables their own account from an incident', {
            detail: 'self',
          });
        }
        return this.#inIncident(actor, incidentId, async (tx) => {
          let ended: number;
          if (request.action === 'end_sessions') {
            ended = await this.ports.endSessions(tx, actor.tenantId, request.userId);
          } else {
            ended = (await this.ports.disableAccount(tx, actor.tenantId, request.userId))
              .endedSessions;
          }
          return {
            action: request.action,
            target: request.userId,
            subject: { type: 'user', id: request.userId },
            endedSessions: ended,
            keyRequestId: null,
            text,
          };
        });
      }
      case 'suspend_integration': {
        const id = checkId('integration', request.integrationId).toLowerCase();
        return this.#inIncident(actor, incidentId, async (tx) => {
          await this.ports.suspendIntegration(
            tx,
            actor.tenantId,
            id,
            `incident ${incidentId}`,
            actor,
          );
          return {
            action: 'suspend_integration',
            target: id,
            subject: { type: 'integration', id },
            endedSessions: null,
            keyRequestId: null,
            text,
          };
        });
      }
      case 'rotate_keys': {
        // The incident must exist and be open before a platform request is filed for it.
        await this.db.withTenant(actor.tenantId, async (tx) => {
          assertOpen((await lockIncident(tx, actor.tenantId, incidentId)).status);
        });
        const { requestId } = await this.ports.requestKeyRotation({
          tenantId: actor.tenantId,
          requestedBy: actor.userId,
          incidentId,
        });
        return this.#inIncident(actor, incidentId, async () => ({
          action: 'rotate_keys',
          target: requestId,
          subject: { type: 'key_request', id: requestId },
          endedSessions: null,
          keyRequestId: requestId,
          text,
        }));
      }
    }
  }

  async #inIncident(
    actor: ProgramActor,
    incidentId: string,
    act: (tx: Tx) => Promise<{
      action: ContainmentAction;
      target: string;
      subject: { type: string; id: string };
      endedSessions: number | null;
      keyRequestId: string | null;
      text: string | null;
    }>,
  ): Promise<ContainmentResult> {
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const { status } = await lockIncident(tx, actor.tenantId, incidentId);
      assertOpen(status);
      const done = await act(tx);
      const details = {
        containment: done.action,
        target: done.target,
        ...(done.endedSessions === null ? {} : { endedSessions: done.endedSessions }),
        ...(done.keyRequestId === null ? {} : { keyRequestId: done.keyRequestId }),
      };
      const entry = await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        { kind: 'containment', actorUserId: actor.userId, text: done.text, details },
        this.clock.now(),
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_CONTAINMENT,
        [{ type: 'incident', id: incidentId }, done.subject],
        { ...details, entry: entry.entry },
      );
      return {
        action: done.action,
        target: done.target,
        endedSessions: done.endedSessions,
        keyRequestId: done.keyRequestId,
        entry,
      };
    });
  }
}
