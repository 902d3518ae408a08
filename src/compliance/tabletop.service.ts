/**
 * Tabletop exercises: rehearsals of the incident and contingency procedures (45 CFR
 * 164.308(a)(6)(i), (a)(7)(ii)(D) testing and revision procedures). A record says when, which
 * scenario, who took part, what was found and what follows; corrections are new versions.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { checkDate } from './dates.js';
import { INCIDENT_CATEGORIES, type IncidentCategory } from './playbooks.js';
import {
  auditProgram,
  checkId,
  checkOneOf,
  checkText,
  lockRecord,
  notFound,
  staleVersion,
  type ProgramActor,
} from './program-common.js';

export interface ActionItem {
  readonly text: string;
  readonly ownerId: string | null;
  readonly dueDate: string | null;
}

export interface TabletopInput {
  readonly heldOn: string;
  readonly title: string;
  readonly category: IncidentCategory;
  readonly scenario: string;
  /** Participants by user id or role name. */
  readonly participants: readonly string[];
  readonly findings: string;
  readonly actionItems: readonly ActionItem[];
}

export interface TabletopExercise extends TabletopInput {
  readonly id: string;
  readonly version: number;
  readonly reason: string;
  readonly changedBy: string;
  readonly changedAt: string;
}

interface Row {
  exercise_id: string;
  version: number;
  held_on: string;
  title: string;
  category: IncidentCategory;
  scenario: string;
  participants: string[];
  findings: string;
  action_items: ActionItem[];
  reason: string;
  changed_by: string;
  changed_at: Date;
}

const COLUMNS = `exercise_id, version, held_on::text AS held_on, title, category, scenario,
  participants, findings, action_items, reason, changed_by, changed_at`;

function toExercise(r: Row): TabletopExercise {
  return {
    id: r.exercise_id,
    version: r.version,
    heldOn: r.held_on,
    title: r.title,
    category: r.category,
    scenario: r.scenario,
    participants: r.participants,
    findings: r.findings,
    actionItems: r.action_items,
    reason: r.reason,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
  };
}

function checkInput(input: TabletopInput, today: string): TabletopInput {
  const heldOn = checkDate('heldOn', input.heldOn);
  if (heldOn > today) {
    throw new AppError('validation_failed', 'record an exercise once it was held', {
      detail: 'heldOn',
    });
  }
  if (input.participants.length > 100 || input.actionItems.length > 100) {
    throw new AppError('validation_failed', 'at most 100 participants and 100 action items', {
      detail: 'participants',
    });
  }
  return {
    heldOn,
    title: checkText('title', input.title, 1, 200),
    category: checkOneOf('category', input.category, INCIDENT_CATEGORIES),
    scenario: checkText('scenario', input.scenario, 1, 8000),
    participants: [...new Set(input.participants.map((p) => checkText('participants', p, 1, 200)))],
    findings: checkText('findings', input.findings, 0, 8000),
    actionItems: input.actionItems.map((a) => ({
      text: checkText('actionItems.text', a.text, 1, 1000),
      ownerId: a.ownerId === null ? null : checkId('owner', a.ownerId),
      dueDate: a.dueDate === null ? null : checkDate('actionItems.dueDate', a.dueDate),
    })),
  };
}

async function insert(
  tx: Tx,
  tenantId: TenantId,
  id: string,
  version: number,
  e: TabletopInput,
  reason: string,
  actor: ProgramActor,
  now: Date,
): Promise<TabletopExercise> {
  const { rows } = await tx.query<Row>(
    `INSERT INTO compliance_tabletop_versions (tenant_id, exercise_id, version, held_on, title,
       category, scenario, participants, findings, action_items, reason, changed_by, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
    [
      tenantId,
      id,
      version,
      e.heldOn,
      e.title,
      e.category,
      e.scenario,
      e.participants,
      e.findings,
      JSON.stringify(e.actionItems),
      reason,
      actor.userId,
      now,
    ],
  );
  if (rows[0] === undefined) throw new AppError('internal', 'exercise insert returned no row');
  return toExercise(rows[0]);
}

export class TabletopService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {}

  async record(actor: ProgramActor, input: TabletopInput): Promise<TabletopExercise> {
    const now = this.clock.now();
    const e = checkInput(input, now.toISOString().slice(0, 10));
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const x = await insert(tx, actor.tenantId, this.random.uuid(), 1, e, 'recorded', actor, now);
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_TABLETOP_RECORD,
        [{ type: 'tabletop', id: x.id }],
        { version: 1, category: x.category, heldOn: x.heldOn, actionItems: x.actionItems.length },
      );
      return x;
    });
  }

  async revise(
    actor: ProgramActor,
    id: string,
    baseVersion: number,
    input: TabletopInput,
    reason: string,
  ): Promise<TabletopExercise> {
    checkId('exercise', id);
    const now = this.clock.now();
    const e = checkInput(input, now.toISOString().slice(0, 10));
    const why = checkText('reason', reason, 1, 1000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await lockRecord(tx, 'tabletop', id);
      const { rows } = await tx.query<{ version: number }>(
        `SELECT max(version) AS version FROM compliance_tabletop_versions
          WHERE tenant_id = $1 AND exercise_id = $2`,
        [actor.tenantId, id],
      );
      const current = rows[0]?.version ?? null;
      if (current === null) throw notFound('exercise');
      if (current !== baseVersion) throw staleVersion('exercise', current);
      const x = await insert(tx, actor.tenantId, id, current + 1, e, why, actor, now);
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_TABLETOP_RECORD,
        [{ type: 'tabletop', id }],
        { version: x.version, category: x.category, heldOn: x.heldOn },
      );
      return x;
    });
  }

  /** The current version of every exercise, most recent first. */
  async list(tenantId: TenantId): Promise<TabletopExercise[]> {
    return this.db.withTenant(tenantId, (tx) => listTabletops(tx, tenantId));
  }
}

export async function listTabletops(tx: Tx, tenantId: TenantId): Promise<TabletopExercise[]> {
  const { rows } = await tx.query<Row>(
    `SELECT * FROM (SELECT DISTINCT ON (exercise_id) ${COLUMNS} FROM compliance_tabletop_versions
                     WHERE tenant_id = $1 ORDER BY exercise_id, version DESC) cur
      ORDER BY held_on DESC, exercise_id LIMIT 1000`,
    [tenantId],
  );
  return rows.map(toExercise);
}
