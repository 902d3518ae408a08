import { AppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { loadRoleCatalog } from '../access/role-catalog.service.js';
import { permissionsOf } from '../access/role-catalog.js';
import type { PrescriptionRepository } from './prescription.repository.js';
import { checkScheduleIiSeries } from './prescription.validation.js';
import type { Actor, PrescriptionContent } from './prescription.types.js';

/**
 * The prescriber a draft is for: the caller when they may sign, or a named active member of the
 * tenant whose roles grant `rx.sign` (an agent drafts for a prescriber, 21 CFR 1311.135(a)).
 */
export async function prescriberFor(
  tx: Tx,
  actor: Actor,
  named: string | undefined,
): Promise<string> {
  if (named === undefined || named === actor.userId) {
    if (!actor.permissions.has('rx.sign')) {
      throw new AppError('validation_failed', 'name the prescriber this draft is for', {
        detail: 'prescriberId',
      });
    }
    return actor.userId;
  }
  const { rows } = await tx.query<{ roles: string[] }>(
    `SELECT m.roles FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.user_id = $1 AND u.status = 'active'`,
    [named],
  );
  const roles = rows[0]?.roles;
  const { catalog } = await loadRoleCatalog(tx);
  if (roles === undefined || !permissionsOf(catalog, roles).has('rx.sign')) {
    throw new AppError('validation_failed', 'not a prescriber of this organisation', {
      detail: 'prescriberId',
    });
  }
  return named;
}

/**
 * 21 CFR 1306.12(b): checks a Schedule II prescription against the other active ones of the
 * same prescriber, patient and drug issued the same day (one visit's series).
 */
export async function checkSeries(
  tx: Tx,
  repo: PrescriptionRepository,
  now: Date,
  tenantId: TenantId,
  id: string,
  patientId: string,
  prescriberId: string,
  content: PrescriptionContent,
): Promise<void> {
  if (content.drug.deaSchedule !== 'CII') return;
  const today = now.toISOString().slice(0, 10);
  const dayStart = new Date(`${today}T00:00:00Z`);
  const others = (
    await repo.list(tx, tenantId, {
      patientId,
      prescriberId,
      controlledOnly: true,
      createdFrom: dayStart,
      createdTo: new Date(dayStart.getTime() + 86_400_000),
    })
  ).filter(
    (o) => o.id !== id && o.status !== 'cancelled' && o.content.drug.rxcui === content.drug.rxcui,
  );
  checkScheduleIiSeries(
    {
      id,
      daysSupply: content.daysSupply,
      earliestFillDate: content.earliestFillDate,
      issuedOn: today,
    },
    others.map((o) => ({
      id: o.id,
      daysSupply: o.content.daysSupply,
      earliestFillDate: o.content.earliestFillDate,
      issuedOn: today,
    })),
  );
}
