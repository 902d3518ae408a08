import { AppError, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import {
  recordPatientAccess,
  type AccessMeta,
  type PatientAccess,
} from '../access/patient-access.js';
import { CARETEAM_ADD, CARETEAM_REMOVE, PATIENT_READ } from '../monitoring/actions.js';
import { requirePermission, type PatientActor } from './patient-actor.js';
import type { CareTeamMember } from './patient.views.js';
import { readableView } from './patient.service.js';

const RELATION_RE = /^[a-z_]{1,40}$/;

/**
 * Care teams: the relationship that opens a patient's record to a clinician (45 CFR
 * 164.308(a)(4); issue 5 item 2). Changing one needs patient.write and a relationship with the
 * patient; the new member must belong to the same tenant (another tenant's user answers
 * `not_found`, like a missing one). Every change and every read of the team is audited.
 */
export class CareTeamService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly access: PatientAccess,
  ) {}

  async members(who: PatientActor, patientId: string, meta: AccessMeta): Promise<CareTeamMember[]> {
    readableView(who);
    return this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.read');
      const { rows } = await tx.query<{
        user_id: string;
        display_name: string;
        relation: string;
        added_at: Date;
      }>(
        `SELECT c.user_id, u.display_name, c.relation, c.added_at
           FROM care_team c JOIN users u ON u.id = c.user_id
          WHERE c.patient_id = $1 AND c.ended_at IS NULL ORDER BY c.added_at, c.user_id`,
        [patientId],
      );
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        PATIENT_READ,
        new Map([[patientId, basis]]),
        meta,
        {
          part: 'care_team',
        },
      );
      return rows.map((r) => ({
        userId: r.user_id,
        displayName: r.display_name,
        relation: r.relation,
        addedAt: r.added_at.toISOString(),
      }));
    });
  }

  async add(
    who: PatientActor,
    patientId: string,
    member: { readonly userId: string; readonly relation: string },
    meta: AccessMeta,
  ): Promise<void> {
    requirePermission(who, 'patient.write');
    if (!RELATION_RE.test(member.relation)) {
      throw new AppError('validation_failed', 'relation must be lower-case letters', {
        detail: 'relation',
      });
    }
    await this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.write');
      // memberships is filtered to this tenant: another tenant's user is simply not there.
      const { rows } = await tx.query<{ status: string }>(
        `SELECT u.status FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.tenant_id = scrip_current_tenant() AND m.user_id = $1`,
        [member.userId],
      );
      const status = rows[0]?.status;
      if (status === undefined) throw new AppError('not_found', 'no such user');
      if (status !== 'active') throw new AppError('conflict', 'the user is disabled');
      const inserted = await tx.query(
        `INSERT INTO care_team (tenant_id, patient_id, user_id, relation, added_by, added_at)
         VALUES (scrip_current_tenant(), $1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [patientId, member.userId, member.relation, who.userId, this.clock.now()],
      );
      if (inserted.rowCount !== 1) throw new AppError('conflict', 'already on the care team');
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        CARETEAM_ADD,
        new Map([[patientId, basis]]),
        meta,
        {
          memberUserId: member.userId,
          relation: member.relation,
        },
      );
    });
  }

  /** Ends a membership; the last member cannot leave (the record would be nobody's). */
  async remove(
    who: PatientActor,
    patientId: string,
    userId: string,
    meta: AccessMeta,
  ): Promise<void> {
    requirePermission(who, 'patient.write');
    await this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.write');
      const { rows } = await tx.query<{ user_id: string }>(
        `SELECT user_id FROM care_team WHERE patient_id = $1 AND ended_at IS NULL FOR UPDATE`,
        [patientId],
      );
      if (!rows.some((r) => r.user_id === userId))
        throw new AppError('not_found', 'no such member');
      if (rows.length === 1) throw new AppError('conflict', 'the care team cannot be left empty');
      await tx.query(
        `UPDATE care_team SET ended_at = $3 WHERE patient_id = $1 AND user_id = $2 AND ended_at IS NULL`,
        [patientId, userId, this.clock.now()],
      );
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        CARETEAM_REMOVE,
        new Map([[patientId, basis]]),
        meta,
        {
          memberUserId: userId,
        },
      );
    });
  }
}
