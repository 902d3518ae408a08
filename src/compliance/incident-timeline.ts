/**
 * The incident timeline: numbered, append-only entries (who, when, what), written in the
 * transaction of the change they describe, beside its audit record. Shared by the incident,
 * containment, evidence and breach services.
 */
import { AppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { cryptoRandom } from '../core/index.js';
import { INCIDENT_TIMELINE_SEALED, type Narrative } from './incident-narrative.js';
import { checkId, lockRecord, notFound } from './program-common.js';

export const TIMELINE_KINDS = [
  'created',
  'updated',
  'note',
  'checklist',
  'containment',
  'evidence',
  'assessment',
  'notice',
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export type TimelineDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface TimelineEntry {
  readonly id: string;
  readonly entry: number;
  readonly at: string;
  readonly kind: TimelineKind;
  readonly actorUserId: string | null;
  readonly text: string | null;
  readonly details: TimelineDetails;
}

interface TimelineRow {
  id: string;
  entry: number;
  at: Date;
  kind: TimelineKind;
  actor_user_id: string | null;
  /** Sealed (incident-narrative.ts). */
  text: Buffer | null;
  details: Record<string, string | number | boolean | null>;
}

const COLUMNS = 'id, entry, at, kind, actor_user_id, text, details';

async function toEntry(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  r: TimelineRow,
): Promise<TimelineEntry> {
  const plain = await narrative.open(tx, tenantId, INCIDENT_TIMELINE_SEALED, r.id, {
    text: r.text,
  });
  return {
    id: r.id,
    entry: r.entry,
    at: r.at.toISOString(),
    kind: r.kind,
    actorUserId: r.actor_user_id,
    text: plain.text ?? null,
    details: r.details,
  };
}

/**
 * Locks the incident for this transaction and returns its status; `not_found` for an id that is
 * not an incident of the tenant (another tenant's included).
 */
export async function lockIncident(
  tx: Tx,
  tenantId: TenantId,
  incidentId: string,
): Promise<{ status: string; category: string }> {
  checkId('incident', incidentId);
  await lockRecord(tx, 'incident', incidentId);
  const { rows } = await tx.query<{ status: string; category: string }>(
    `SELECT v.status, i.category FROM compliance_incidents i
       JOIN compliance_incident_versions v ON v.incident_id = i.id AND v.tenant_id = i.tenant_id
      WHERE i.tenant_id = $1 AND i.id = $2 ORDER BY v.version DESC LIMIT 1`,
    [tenantId, incidentId],
  );
  const row = rows[0];
  if (row === undefined) throw notFound('incident');
  return row;
}

/** Refuses changes other than reopening to a closed incident. */
export function assertOpen(status: string): void {
  if (status === 'closed') {
    throw new AppError('conflict', 'the incident is closed; reopen it first', {
      detail: 'status',
    });
  }
}

/** Appends the next entry (caller holds the incident lock from {@link lockIncident}). */
export async function appendTimeline(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  incidentId: string,
  e: {
    readonly kind: TimelineKind;
    readonly actorUserId: string | null;
    readonly text?: string | null;
    readonly details?: TimelineDetails;
  },
  at: Date,
): Promise<TimelineEntry> {
  const id = cryptoRandom.uuid();
  const { version, sealed } = await narrative.seal(tx, tenantId, INCIDENT_TIMELINE_SEALED, id, {
    text: e.text ?? null,
  });
  const { rows } = await tx.query<TimelineRow>(
    `INSERT INTO compliance_incident_timeline (id, tenant_id, incident_id, entry, at, kind,
       actor_user_id, text, details, dek_version)
     SELECT $1, $2, $3, coalesce(max(entry), 0) + 1, $4, $5, $6, $7, $8, $9
       FROM compliance_incident_timeline WHERE tenant_id = $2 AND incident_id = $3
     RETURNING ${COLUMNS}`,
    [
      id,
      tenantId,
      incidentId,
      at,
      e.kind,
      e.actorUserId,
      sealed.text,
      JSON.stringify(e.details ?? {}),
      version,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', 'timeline insert returned no row');
  return toEntry(tx, narrative, tenantId, row);
}

/** The whole timeline of an incident, in order. */
export async function readTimeline(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  incidentId: string,
): Promise<TimelineEntry[]> {
  const { rows } = await tx.query<TimelineRow>(
    `SELECT ${COLUMNS} FROM compliance_incident_timeline
      WHERE tenant_id = $1 AND incident_id = $2 ORDER BY entry`,
    [tenantId, incidentId],
  );
  const out: TimelineEntry[] = [];
  for (const r of rows) out.push(await toEntry(tx, narrative, tenantId, r));
  return out;
}
