/**
 * Registry changes with their audit records (one transaction each): `scrip switch participants
 * add FILE` saves every participant of a file (all or nothing), `remove ID` deactivates one.
 */
import { appendAudit, type AuditActor } from '../audit/index.js';
import { AppError, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { SWITCH_PARTICIPANT_REMOVE, SWITCH_PARTICIPANT_SAVE } from '../monitoring/actions.js';
import { assertParticipant, ParticipantRepository, type ParticipantInput } from './participants.js';
import { ensureSwitchTenant } from './switch-tenant.js';

/** A registry file: one participant object, or an array of them (JSON). */
export function parseParticipantFile(text: string): ParticipantInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError('validation_failed', 'participant file is not JSON', { detail: 'file' });
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0 || list.length > 1000) {
    throw new AppError('validation_failed', 'participant file must hold 1 to 1000 participants');
  }
  return list.map((p, i) => {
    try {
      return assertParticipant(p);
    } catch (err) {
      if (err instanceof AppError) {
        throw new AppError(
          'validation_failed',
          `participant ${String(i + 1)}: invalid ${err.detail ?? ''}`,
          {
            detail: err.detail ?? 'participant',
          },
        );
      }
      throw err;
    }
  });
}

export async function saveParticipants(
  db: Database,
  clock: Clock,
  participants: readonly ParticipantInput[],
  actor: AuditActor,
): Promise<{ id: string; result: 'created' | 'updated' }[]> {
  const tenantId = await ensureSwitchTenant(db);
  const repo = new ParticipantRepository(clock);
  return db.withTenant(tenantId, async (tx) => {
    const out: { id: string; result: 'created' | 'updated' }[] = [];
    for (const p of participants) {
      const result = await repo.save(tx, tenantId, p);
      out.push({ id: p.id, result });
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: SWITCH_PARTICIPANT_SAVE,
          outcome: 'success',
          subjects: [{ type: 'switch_participant', id: p.id }],
          details: {
            result,
            kind: p.kind,
            addresses: p.addresses
              .map((a) => `${a.qualifier}:${a.value}`)
              .join(' ')
              .slice(0, 1000),
            serviceLevels: p.serviceLevels.join(' '),
            clientPin: p.clientPins.primary,
            clientPinBackup: p.clientPins.backup ?? null,
            serverPin: p.serverPins.primary,
            serverPinBackup: p.serverPins.backup ?? null,
            jwksKids: (p.jwks?.keys ?? [])
              .map((k) => String((k as { kid?: unknown }).kid))
              .join(' ')
              .slice(0, 1000),
          },
        },
        clock,
      );
    }
    return out;
  });
}

export async function removeParticipant(
  db: Database,
  clock: Clock,
  id: string,
  actor: AuditActor,
): Promise<boolean> {
  const tenantId = await ensureSwitchTenant(db);
  const repo = new ParticipantRepository(clock);
  return db.withTenant(tenantId, async (tx) => {
    const removed = await repo.remove(tx, tenantId, id);
    if (removed) {
      await appendAudit(
        tx,
        {
          tenantId,
          actor,
          action: SWITCH_PARTICIPANT_REMOVE,
          outcome: 'success',
          subjects: [{ type: 'switch_participant', id }],
        },
        clock,
      );
    }
    return removed;
  });
}
