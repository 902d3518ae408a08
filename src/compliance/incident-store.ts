/**
 * The incident versions as stored: checks of the changing fields, and the version rows with their
 * narrative sealed (incident-narrative.ts).
 */
import { AppError, cryptoRandom, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { INCIDENT_VERSIONS_SEALED, type Narrative } from './incident-narrative.js';
import {
  INCIDENT_ROLES,
  VERSION_COLUMNS,
  toVersion,
  type IncidentRole,
  type IncidentRoles,
  type IncidentVersion,
  type VersionRow,
} from './incident-model.js';
import { assertMember, checkOneOf, notFound, type ProgramActor } from './program-common.js';

export function checkInstant(field: string, value: string, now: Date): Date {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) {
    throw new AppError('validation_failed', `${field} must be an ISO 8601 date-time`, {
      detail: field,
    });
  }
  if (ms > now.getTime() + 5 * 60_000) {
    throw new AppError('validation_failed', `${field} cannot be in the future`, { detail: field });
  }
  return new Date(ms);
}

export async function checkRoles(
  tx: Tx,
  tenantId: TenantId,
  roles: IncidentRoles,
): Promise<IncidentRoles> {
  const out: Partial<Record<IncidentRole, string>> = {};
  for (const [role, userId] of Object.entries(roles)) {
    const r = checkOneOf('roles', role, INCIDENT_ROLES);
    if (typeof userId !== 'string') continue;
    await assertMember(tx, tenantId, `roles.${r}`, userId);
    out[r] = userId;
  }
  return out;
}

export async function insertVersion(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  incidentId: string,
  version: number,
  v: Omit<IncidentVersion, 'version' | 'changedAt' | 'changedBy' | 'discoveredAt'> & {
    discoveredAt: Date;
  },
  actor: ProgramActor,
  now: Date,
): Promise<IncidentVersion> {
  const rowId = cryptoRandom.uuid();
  const { version: dek, sealed } = await narrative.seal(
    tx,
    tenantId,
    INCIDENT_VERSIONS_SEALED,
    rowId,
    { summary: v.summary, lessons_learned: v.lessonsLearned },
  );
  const { rows } = await tx.query<VersionRow>(
    `INSERT INTO compliance_incident_versions AS v (id, tenant_id, incident_id, version, title,
       summary, severity, status, discovered_at, roles, lessons_learned, reason, changed_by,
       changed_at, dek_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     RETURNING ${VERSION_COLUMNS}`,
    [
      rowId,
      tenantId,
      incidentId,
      version,
      v.title,
      sealed.summary,
      v.severity,
      v.status,
      v.discoveredAt,
      JSON.stringify(v.roles),
      sealed.lessons_learned,
      v.reason,
      actor.userId,
      now,
      dek,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', 'incident insert returned no row');
  return toVersion(tx, narrative, tenantId, row);
}

export async function currentVersion(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  incidentId: string,
): Promise<IncidentVersion> {
  const { rows } = await tx.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM compliance_incident_versions v
      WHERE v.tenant_id = $1 AND v.incident_id = $2 ORDER BY v.version DESC LIMIT 1`,
    [tenantId, incidentId],
  );
  if (rows[0] === undefined) throw notFound('incident');
  return toVersion(tx, narrative, tenantId, rows[0]);
}
