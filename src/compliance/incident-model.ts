/**
 * The incident record's vocabulary and read side: severities, statuses, response roles, the
 * version and timeline views, the checklist state, and the list of incidents.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { INCIDENT_VERSIONS_SEALED, type Narrative } from './incident-narrative.js';
import type { TimelineEntry } from './incident-timeline.js';
import type { IncidentCategory, PlaybookItem } from './playbooks.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentSeverity = (typeof SEVERITIES)[number];
export const INCIDENT_STATUSES = ['open', 'contained', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
/** The roles a response assigns to people (NIST SP 800-61r2 §2.4.3). */
export const INCIDENT_ROLES = [
  'incident_commander',
  'security_lead',
  'privacy_officer',
  'communications',
  'scribe',
] as const;
export type IncidentRole = (typeof INCIDENT_ROLES)[number];
export type IncidentRoles = Readonly<Partial<Record<IncidentRole, string>>>;

export interface NewIncident {
  readonly title: string;
  readonly summary: string;
  readonly category: IncidentCategory;
  readonly severity: IncidentSeverity;
  /** ISO 8601 date-time at which the incident became known. */
  readonly discoveredAt: string;
  readonly roles: IncidentRoles;
}

export interface IncidentChange {
  readonly title?: string;
  readonly summary?: string;
  readonly severity?: IncidentSeverity;
  readonly status?: IncidentStatus;
  readonly discoveredAt?: string;
  readonly roles?: IncidentRoles;
  readonly lessonsLearned?: string;
}

export interface IncidentVersion {
  readonly version: number;
  readonly title: string;
  readonly summary: string;
  readonly severity: IncidentSeverity;
  readonly status: IncidentStatus;
  readonly discoveredAt: string;
  readonly roles: IncidentRoles;
  readonly lessonsLearned: string | null;
  readonly reason: string;
  readonly changedBy: string;
  readonly changedAt: string;
}

export interface ChecklistItemState extends PlaybookItem {
  readonly done: boolean;
  readonly by: string | null;
  readonly at: string | null;
}

export interface IncidentSummary {
  readonly id: string;
  readonly category: IncidentCategory;
  readonly playbookVersion: number;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly current: IncidentVersion;
  readonly checklist: { readonly total: number; readonly done: number };
}

export interface EvidenceSummary {
  readonly id: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly records: number;
  readonly checkpointSize: number;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface IncidentDetail extends IncidentSummary {
  readonly history: readonly IncidentVersion[];
  readonly checklistItems: readonly ChecklistItemState[];
  readonly timeline: readonly TimelineEntry[];
  readonly evidence: readonly EvidenceSummary[];
}

export interface VersionRow {
  /** The version row's own id (the sealed columns' AAD). */
  version_row_id: string;
  incident_id: string;
  version: number;
  title: string;
  /** Sealed, like `lessons_learned` (incident-narrative.ts). */
  summary: Buffer;
  severity: IncidentSeverity;
  status: IncidentStatus;
  discovered_at: Date;
  roles: Record<string, string>;
  lessons_learned: Buffer | null;
  reason: string;
  changed_by: string;
  changed_at: Date;
}

export interface IncidentRow extends VersionRow {
  id: string;
  category: IncidentCategory;
  playbook_version: number;
  checklist: PlaybookItem[];
  created_by: string;
  created_at: Date;
}

export const VERSION_COLUMNS = `v.id AS version_row_id, v.incident_id, v.version, v.title, v.summary, v.severity, v.status,
  v.discovered_at, v.roles, v.lessons_learned, v.reason, v.changed_by, v.changed_at`;
export const INCIDENT_SELECT = `SELECT DISTINCT ON (i.id) i.id, i.category, i.playbook_version, i.checklist,
  i.created_by, i.created_at, ${VERSION_COLUMNS}
  FROM compliance_incidents i
  JOIN compliance_incident_versions v ON v.tenant_id = i.tenant_id AND v.incident_id = i.id`;

/** A version as read, its narrative opened by `narrative`. */
export async function toVersion(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  r: VersionRow,
): Promise<IncidentVersion> {
  const text = await narrative.open(tx, tenantId, INCIDENT_VERSIONS_SEALED, r.version_row_id, {
    summary: r.summary,
    lessons_learned: r.lessons_learned,
  });
  return {
    version: r.version,
    title: r.title,
    summary: text.summary ?? '',
    severity: r.severity,
    status: r.status,
    discoveredAt: r.discovered_at.toISOString(),
    roles: r.roles,
    lessonsLearned: text.lessons_learned ?? null,
    reason: r.reason,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
  };
}

/** Current checklist state: the latest `checklist` timeline entry per item decides. */
export function checklistState(
  items: readonly PlaybookItem[],
  timeline: readonly TimelineEntry[],
): ChecklistItemState[] {
  const last = new Map<string, TimelineEntry>();
  for (const e of timeline) {
    if (e.kind === 'checklist' && typeof e.details.item === 'string') last.set(e.details.item, e);
  }
  return items.map((item) => {
    const e = last.get(item.key);
    if (e?.details.done !== true) return { ...item, done: false, by: null, at: null };
    return { ...item, done: true, by: e.actorUserId, at: e.at };
  });
}

export function summaryOf(
  r: IncidentRow,
  current: IncidentVersion,
  checklist: readonly ChecklistItemState[],
): IncidentSummary {
  return {
    id: r.id,
    category: r.category,
    playbookVersion: r.playbook_version,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    current,
    checklist: { total: checklist.length, done: checklist.filter((c) => c.done).length },
  };
}

/** Current state of every incident of the tenant (newest first). */
export async function listIncidents(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
): Promise<IncidentSummary[]> {
  const { rows } = await tx.query<IncidentRow>(
    `SELECT * FROM (${INCIDENT_SELECT} WHERE i.tenant_id = $1 ORDER BY i.id, v.version DESC) cur
      ORDER BY created_at DESC, id LIMIT 1000`,
    [tenantId],
  );
  const checklistRows = await tx.query<{ incident_id: string; item: string; done: boolean }>(
    `SELECT DISTINCT ON (incident_id, details->>'item') incident_id, details->>'item' AS item,
            (details->>'done')::boolean AS done
       FROM compliance_incident_timeline WHERE tenant_id = $1 AND kind = 'checklist'
      ORDER BY incident_id, details->>'item', entry DESC`,
    [tenantId],
  );
  const done = new Map<string, Set<string>>();
  for (const c of checklistRows.rows) {
    if (!c.done) continue;
    const set = done.get(c.incident_id) ?? new Set<string>();
    set.add(c.item);
    done.set(c.incident_id, set);
  }
  const out: IncidentSummary[] = [];
  for (const r of rows) {
    out.push(
      summaryOf(
        r,
        await toVersion(tx, narrative, tenantId, r),
        r.checklist.map((item) => ({
          ...item,
          done: done.get(r.id)?.has(item.key) === true,
          by: null,
          at: null,
        })),
      ),
    );
  }
  return out;
}
