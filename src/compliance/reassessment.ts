/**
 * Reassessment on inventory change (45 CFR 164.308(a)(1)(ii)(B): risk management is continuous;
 * 164.316(b)(2)(iii): documentation is updated as the environment changes). The inventory calls
 * {@link openReassessment} in the transaction of its change.
 */
import { cryptoRandom, systemClock, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { addDays, utcDay } from './dates.js';
import {
  auditProgram,
  checkInt,
  checkRef,
  checkText,
  type ProgramActor,
} from './program-common.js';
import type { ReassessmentTask } from './risk-model.js';
import { CURRENT, TASK_COLUMNS, toTask, type TaskRow } from './risk-store.js';

export interface OpenReassessmentOptions {
  readonly clock?: Clock;
  /** The person whose change caused it; absent: the system (inventory sync). */
  readonly actor?: ProgramActor;
  /** Days until the reassessment is due (default 30). */
  readonly dueInDays?: number;
}

/** Default time to reassess a risk after its asset changed. */
export const REASSESSMENT_DUE_DAYS = 30;

/**
 * The inventory changed `assetRef` (a new pharmacy gateway, integration, data flow ...): opens a
 * reassessment task for every risk whose current version is linked to that asset, in the caller's
 * transaction `tx` (which runs in `tenantId`'s context), so the inventory change and its tasks
 * commit together. A risk that already has an open task keeps it (listed in `alreadyOpen`); the
 * cause of every call that touches a risk is in its audit record (no linked risk: nothing changes,
 * nothing is recorded).
 */
export async function openReassessment(
  tx: Tx,
  tenantId: TenantId,
  assetRef: string,
  cause: string,
  options: OpenReassessmentOptions = {},
): Promise<{ opened: ReassessmentTask[]; alreadyOpen: ReassessmentTask[] }> {
  const ref = checkRef('assetRef', assetRef);
  const why = checkText('cause', cause, 1, 500);
  const clock = options.clock ?? systemClock;
  const now = clock.now();
  const due = addDays(
    utcDay(now),
    checkInt('dueInDays', options.dueInDays ?? REASSESSMENT_DUE_DAYS, 1, 365),
  );
  const { rows: risks } = await tx.query<{ risk_id: string }>(
    `SELECT risk_id FROM (${CURRENT}) cur WHERE asset_refs @> ARRAY[$2::text] ORDER BY risk_id`,
    [tenantId, ref],
  );
  const opened: ReassessmentTask[] = [];
  const alreadyOpen: ReassessmentTask[] = [];
  for (const { risk_id } of risks) {
    const inserted = await tx.query<TaskRow>(
      `INSERT INTO compliance_reassessment_tasks (id, tenant_id, risk_id, asset_ref, cause,
         opened_at, due_date, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'open')
       ON CONFLICT (tenant_id, risk_id) WHERE status = 'open' DO NOTHING
       RETURNING ${TASK_COLUMNS}`,
      [cryptoRandom.uuid(), tenantId, risk_id, ref, why, now, due],
    );
    const row = inserted.rows[0];
    if (row !== undefined) {
      opened.push(toTask(row));
      continue;
    }
    const existing = await tx.query<TaskRow>(
      `SELECT ${TASK_COLUMNS} FROM compliance_reassessment_tasks
        WHERE tenant_id = $1 AND risk_id = $2 AND status = 'open'`,
      [tenantId, risk_id],
    );
    if (existing.rows[0] !== undefined) alreadyOpen.push(toTask(existing.rows[0]));
  }
  if (risks.length === 0) return { opened, alreadyOpen };
  const subjects = [
    { type: 'asset', id: ref },
    ...opened.slice(0, 49).map((t) => ({ type: 'reassessment_task', id: t.id })),
  ];
  await auditProgram(
    tx,
    clock,
    options.actor ?? { tenantId, system: true },
    MonitoringActions.COMPLIANCE_REASSESSMENT_OPEN,
    subjects,
    { cause: why, risks: risks.length, opened: opened.length, alreadyOpen: alreadyOpen.length },
  );
  return { opened, alreadyOpen };
}
