/**
 * Security incidents (45 CFR 164.308(a)(6)(i)-(ii): identify and respond to suspected or known
 * incidents, mitigate their harmful effects, document them and their outcomes). An incident has
 * a fixed category and the playbook checklist copied when it was opened; its title, severity,
 * status, assigned roles and lessons learned change by new versions; everything that happens is
 * a numbered timeline entry; every change is audited in its transaction.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Database } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { narrativeCipher, type Narrative } from './incident-narrative.js';
import {
  appendTimeline,
  assertOpen,
  lockIncident,
  readTimeline,
  type TimelineEntry,
} from './incident-timeline.js';
import { checkInstant, checkRoles, currentVersion, insertVersion } from './incident-store.js';
import { INCIDENT_CATEGORIES, currentPlaybook, type PlaybookItem } from './playbooks.js';
import {
  auditProgram,
  checkId,
  checkOneOf,
  checkText,
  notFound,
  staleVersion,
  type ProgramActor,
} from './program-common.js';
import {
  INCIDENT_STATUSES,
  SEVERITIES,
  VERSION_COLUMNS,
  checklistState,
  listIncidents,
  summaryOf,
  toVersion,
  type ChecklistItemState,
  type IncidentChange,
  type IncidentDetail,
  type IncidentRow,
  type IncidentSummary,
  type IncidentVersion,
  type NewIncident,
} from './incident-model.js';

export {
  INCIDENT_ROLES,
  INCIDENT_STATUSES,
  SEVERITIES,
  checklistState,
  listIncidents,
  type ChecklistItemState,
  type EvidenceSummary,
  type IncidentChange,
  type IncidentDetail,
  type IncidentRole,
  type IncidentRoles,
  type IncidentSeverity,
  type IncidentStatus,
  type IncidentSummary,
  type IncidentVersion,
  type NewIncident,
} from './incident-model.js';

export class IncidentService {
  readonly #narrative: Narrative;

  constructor(
    private readonly db: Database,
    keyring: Keyring,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {
    this.#narrative = narrativeCipher(keyring);
  }

  /** Opens an incident with the category's playbook in force and its first timeline entry. */
  async create(actor: ProgramActor, input: NewIncident): Promise<IncidentDetail> {
    const now = this.clock.now();
    const title = checkText('title', input.title, 1, 200);
    const summary = checkText('summary', input.summary, 0, 4000);
    const category = checkOneOf('category', input.category, INCIDENT_CATEGORIES);
    const severity = checkOneOf('severity', input.severity, SEVERITIES);
    const discoveredAt = checkInstant('discoveredAt', input.discoveredAt, now);
    const id = this.random.uuid();
    await this.db.withTenant(actor.tenantId, async (tx) => {
      const roles = await checkRoles(tx, actor.tenantId, input.roles);
      const playbook = await currentPlaybook(tx, actor.tenantId, category);
      await tx.query(
        `INSERT INTO compliance_incidents (id, tenant_id, category, playbook_version, checklist,
           created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          id,
          actor.tenantId,
          category,
          playbook.version,
          JSON.stringify(playbook.items),
          actor.userId,
          now,
        ],
      );
      const v = await insertVersion(
        tx,
        this.#narrative,
        actor.tenantId,
        id,
        1,
        {
          title,
          summary,
          severity,
          status: 'open',
          discoveredAt,
          roles,
          lessonsLearned: null,
          reason: 'opened',
        },
        actor,
        now,
      );
      await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        id,
        {
          kind: 'created',
          actorUserId: actor.userId,
          details: { category, severity, playbookVersion: playbook.version },
        },
        now,
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_CREATE,
        [{ type: 'incident', id }],
        { category, severity: v.severity, playbookVersion: playbook.version },
      );
    });
    return this.get(actor.tenantId, id);
  }

  /**
   * A new version with `change` applied to the current one (made from `baseVersion`). Closing
   * needs lessons learned; a closed incident may only be reopened.
   */
  async update(
    actor: ProgramActor,
    incidentId: string,
    baseVersion: number,
    change: IncidentChange,
    reason: string,
  ): Promise<IncidentDetail> {
    const why = checkText('reason', reason, 1, 1000);
    const now = this.clock.now();
    await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const cur = await currentVersion(tx, this.#narrative, actor.tenantId, incidentId);
      if (cur.version !== baseVersion) throw staleVersion('incident', cur.version);
      const status =
        change.status === undefined
          ? cur.status
          : checkOneOf('status', change.status, INCIDENT_STATUSES);
      if (cur.status === 'closed' && status === 'closed') assertOpen(cur.status);
      const lessons =
        change.lessonsLearned === undefined
          ? cur.lessonsLearned
          : checkText('lessonsLearned', change.lessonsLearned, 1, 8000);
      if (status === 'closed' && lessons === null) {
        throw new AppError('validation_failed', 'record the lessons learned before closing', {
          detail: 'lessonsLearned',
        });
      }
      const next = {
        title: change.title === undefined ? cur.title : checkText('title', change.title, 1, 200),
        summary:
          change.summary === undefined
            ? cur.summary
            : checkText('summary', change.summary, 0, 4000),
        severity:
          change.severity === undefined
            ? cur.severity
            : checkOneOf('severity', change.severity, SEVERITIES),
        status,
        discoveredAt:
          change.discoveredAt === undefined
            ? new Date(cur.discoveredAt)
            : checkInstant('discoveredAt', change.discoveredAt, now),
        roles:
          change.roles === undefined
            ? cur.roles
            : await checkRoles(tx, actor.tenantId, change.roles),
        lessonsLearned: lessons,
        reason: why,
      };
      const v = await insertVersion(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        cur.version + 1,
        next,
        actor,
        now,
      );
      const changed = (Object.keys(change) as (keyof IncidentChange)[]).sort().join(',');
      await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        {
          kind: 'updated',
          actorUserId: actor.userId,
          text: why,
          details: { version: v.version, changed, severity: v.severity, status: v.status },
        },
        now,
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_UPDATE,
        [{ type: 'incident', id: incidentId }],
        {
          version: v.version,
          changed,
          severity: v.severity,
          status: v.status,
          previousStatus: cur.status,
        },
      );
    });
    return this.get(actor.tenantId, incidentId);
  }

  /** A free-text note on the timeline (program text: describe systems and actions, not patients). */
  async addNote(actor: ProgramActor, incidentId: string, text: string): Promise<TimelineEntry> {
    const note = checkText('text', text, 1, 4000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const entry = await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        { kind: 'note', actorUserId: actor.userId, text: note },
        this.clock.now(),
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_NOTE,
        [{ type: 'incident', id: incidentId }],
        { entry: entry.entry },
      );
      return entry;
    });
  }

  /** Ticks (or unticks) a checklist item of the incident's playbook. */
  async setChecklistItem(
    actor: ProgramActor,
    incidentId: string,
    item: string,
    done: boolean,
  ): Promise<ChecklistItemState[]> {
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const { status } = await lockIncident(tx, actor.tenantId, incidentId);
      assertOpen(status);
      const { rows } = await tx.query<{ checklist: PlaybookItem[] }>(
        'SELECT checklist FROM compliance_incidents WHERE tenant_id = $1 AND id = $2',
        [actor.tenantId, incidentId],
      );
      const items = rows[0]?.checklist ?? [];
      if (!items.some((i) => i.key === item)) throw notFound('checklist item');
      const entry = await appendTimeline(
        tx,
        this.#narrative,
        actor.tenantId,
        incidentId,
        { kind: 'checklist', actorUserId: actor.userId, details: { item, done } },
        this.clock.now(),
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_INCIDENT_CHECKLIST,
        [{ type: 'incident', id: incidentId }],
        { item, done, entry: entry.entry },
      );
      return checklistState(
        items,
        await readTimeline(tx, this.#narrative, actor.tenantId, incidentId),
      );
    });
  }

  async list(tenantId: TenantId): Promise<IncidentSummary[]> {
    return this.db.withTenant(tenantId, (tx) => listIncidents(tx, this.#narrative, tenantId));
  }

  /** Everything about one incident: history, checklist, timeline and preserved evidence. */
  async get(tenantId: TenantId, incidentId: string): Promise<IncidentDetail> {
    checkId('incident', incidentId);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<IncidentRow>(
        `SELECT i.id, i.category, i.playbook_version, i.checklist, i.created_by, i.created_at,
                ${VERSION_COLUMNS}
           FROM compliance_incidents i
           JOIN compliance_incident_versions v ON v.tenant_id = i.tenant_id AND v.incident_id = i.id
          WHERE i.tenant_id = $1 AND i.id = $2 ORDER BY v.version`,
        [tenantId, incidentId],
      );
      const latest = rows.at(-1);
      if (latest === undefined) throw notFound('incident');
      const timeline = await readTimeline(tx, this.#narrative, tenantId, incidentId);
      const items = checklistState(latest.checklist, timeline);
      const evidence = await tx.query<{
        id: string;
        from_seq: string;
        to_seq: string;
        records: number;
        checkpoint_size: string;
        created_by: string;
        created_at: Date;
      }>(
        `SELECT id, from_seq, to_seq, records, checkpoint_size, created_by, created_at
           FROM compliance_incident_evidence WHERE tenant_id = $1 AND incident_id = $2
          ORDER BY created_at, id`,
        [tenantId, incidentId],
      );
      const history: IncidentVersion[] = [];
      for (const r of rows) history.push(await toVersion(tx, this.#narrative, tenantId, r));
      const current = history.at(-1);
      if (current === undefined) throw notFound('incident');
      return {
        ...summaryOf(latest, current, items),
        history,
        checklistItems: items,
        timeline,
        evidence: evidence.rows.map((e) => ({
          id: e.id,
          fromSeq: Number(e.from_seq),
          toSeq: Number(e.to_seq),
          records: e.records,
          checkpointSize: Number(e.checkpoint_size),
          createdBy: e.created_by,
          createdAt: e.created_at.toISOString(),
        })),
      };
    });
  }
}
