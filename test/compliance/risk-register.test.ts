import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  RiskRegisterService,
  openReassessment,
  renderRiskReportHtml,
  runComplianceChecks,
  type ProgramActor,
} from '../../src/compliance/program.js';
import { listAlerts, runDetector } from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase, ownerClient } from '../db.js';
import { DAY_MS, asset, auditOf, member, risk } from './helpers.js';

describe('risk register: versioned history, reassessment tasks, overdue alerts, report', () => {
  let db: Database;
  let clock: ManualClock;
  let risks: RiskRegisterService;
  let tenant: TenantId;
  let officer: ProgramActor;
  let owner: ProgramActor;

  beforeAll(async () => {
    db = await openTestDatabase();
    clock = new ManualClock(Date.UTC(2026, 3, 1, 10));
    risks = new RiskRegisterService(db, clock);
    tenant = await freshTenant(db, 'Risk clinic');
    officer = await member(db, tenant);
    owner = await member(db, tenant, ['security_admin']);
  });
  afterAll(async () => {
    await db.close();
  });

  it('keeps every version as history; a revision from a stale version is refused', async () => {
    const v1 = await risks.create(officer, risk(owner.userId));
    expect(v1).toMatchObject({
      version: 1,
      inherentScore: 20,
      residualScore: 8,
      reason: 'identified',
    });
    clock.advance(60_000);
    const v2 = await risks.revise(
      officer,
      v1.riskId,
      1,
      risk(owner.userId, { residualLikelihood: 1, status: 'in_treatment' }),
      'mTLS certificate moved to the HSM',
    );
    expect(v2).toMatchObject({ version: 2, residualScore: 4 });
    const v3 = await risks.revise(
      officer,
      v1.riskId,
      2,
      risk(owner.userId, {
        residualLikelihood: 1,
        treatment: 'accept',
        status: 'accepted',
        acceptanceCriteria: 'Residual 4 or less, reviewed quarterly',
      }),
      'accepted by the security officer',
    );
    await expect(
      risks.revise(officer, v1.riskId, 2, risk(owner.userId), 'stale edit'),
    ).rejects.toMatchObject({ code: 'conflict', detail: 'baseVersion' });
    const got = await risks.get(tenant, v1.riskId);
    expect(got.current).toEqual(v3);
    expect(got.history.map((h) => [h.version, h.residualScore, h.status, h.reason])).toEqual([
      [1, 8, 'in_treatment', 'identified'],
      [2, 4, 'in_treatment', 'mTLS certificate moved to the HSM'],
      [3, 4, 'accepted', 'accepted by the security officer'],
    ]);
    const audit = (await auditOf(db, tenant)).filter((a) =>
      a.action.startsWith('compliance.risk.'),
    );
    expect(audit.map((a) => [a.action, a.details.version])).toEqual([
      ['compliance.risk.create', 1],
      ['compliance.risk.revise', 2],
      ['compliance.risk.revise', 3],
    ]);
    expect(audit[0]?.subjects).toEqual([{ type: 'risk', id: v1.riskId }]);
  });

  it('checks the statement: residual above inherent, acceptance without criteria, a stranger as owner', async () => {
    await expect(
      risks.create(officer, risk(owner.userId, { residualLikelihood: 5, residualImpact: 5 })),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'residualImpact' });
    await expect(
      risks.create(officer, risk(owner.userId, { treatment: 'accept', acceptanceCriteria: ' ' })),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'acceptanceCriteria' });
    const stranger = await member(db, await freshTenant(db, 'Elsewhere'));
    await expect(risks.create(officer, risk(stranger.userId))).rejects.toMatchObject({
      code: 'validation_failed',
      detail: 'ownerId',
    });
    await expect(
      risks.create(officer, risk(owner.userId, { likelihood: 6 })),
    ).rejects.toMatchObject({ detail: 'likelihood' });
  });

  it('links risks only to assets of the tenant inventory; an unknown reference writes nothing', async () => {
    const t = await freshTenant(db, 'Asset-check clinic');
    const cso = await member(db, t);
    const mine = await asset(db, t, 'Front desk PC');
    const theirs = await asset(db, await freshTenant(db, 'Asset-check other'), 'Their PC');
    for (const refs of [['front desk PC'], [theirs], [mine, randomUUID()]]) {
      await expect(risks.create(cso, risk(cso.userId, { assetRefs: refs }))).rejects.toMatchObject({
        code: 'validation_failed',
        detail: 'assetRefs',
      });
    }
    expect(await risks.list(t)).toEqual([]);
    expect(await auditOf(db, t)).toEqual([]);
    // An upper-case id names the same asset (stored as the inventory spells it).
    const r = await risks.create(cso, risk(cso.userId, { assetRefs: [mine.toUpperCase()] }));
    expect(r.assetRefs).toEqual([mine]);
    // A retired asset may stay linked on a revision but is not newly linked.
    const gone = await asset(db, t, 'Old server');
    const linked = await risks.create(cso, risk(cso.userId, { assetRefs: [gone] }));
    await db.withTenant(t, async (tx) => {
      await tx.query('UPDATE compliance_assets SET superseded_at = now() WHERE id = $1', [gone]);
      await tx.query(
        `INSERT INTO compliance_assets (id, tenant_id, record_id, version, record_created_at,
           changed_at, changed_by, kind, name, description, owner, phi_classification,
           attributes, source, status)
         SELECT $2, tenant_id, record_id, 2, record_created_at, now(), 'test', kind, name,
           description, owner, phi_classification, attributes, source, 'retired'
           FROM compliance_assets WHERE id = $1`,
        [gone, randomUUID()],
      );
    });
    await expect(
      risks.revise(cso, r.riskId, 1, risk(cso.userId, { assetRefs: [mine, gone] }), 'add'),
    ).rejects.toMatchObject({ detail: 'assetRefs' });
    const kept = await risks.revise(
      cso,
      linked.riskId,
      1,
      risk(cso.userId, { assetRefs: [gone] }),
      'asset retired, risk kept for the record',
    );
    expect(kept.assetRefs).toEqual([gone]);
  });

  it('nothing is updated or deleted: the application role may not, and the table refuses even its owner', async () => {
    const r = await risks.create(officer, risk(owner.userId, { title: 'Immutable' }));
    await expect(
      db.withTenant(tenant, (tx) =>
        tx.query("UPDATE compliance_risk_versions SET title = 'changed' WHERE risk_id = $1", [
          r.riskId,
        ]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      db.withTenant(tenant, (tx) =>
        tx.query('DELETE FROM compliance_risk_versions WHERE risk_id = $1', [r.riskId]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    const c = await ownerClient();
    try {
      // The owner in the tenant's context sees the row (FORCE RLS), and the trigger still refuses.
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [tenant]);
      await expect(
        c.query("UPDATE compliance_risk_versions SET title = 'changed' WHERE risk_id = $1", [
          r.riskId,
        ]),
      ).rejects.toThrow(/append-only/);
      await expect(
        c.query('DELETE FROM compliance_risk_versions WHERE risk_id = $1', [r.riskId]),
      ).rejects.toThrow(/append-only/);
    } finally {
      await c.end();
    }
  });

  it('an inventory change opens one reassessment task per linked risk, atomically with the change', async () => {
    const t = await freshTenant(db, 'Inventory clinic');
    const cso = await member(db, t);
    const gwEast = await asset(db, t, 'Gateway east');
    const dbMain = await asset(db, t, 'Main database');
    const a = await risks.create(cso, risk(cso.userId, { assetRefs: [gwEast] }));
    const b = await risks.create(cso, risk(cso.userId, { assetRefs: [gwEast, dbMain] }));
    const c = await risks.create(cso, risk(cso.userId, { assetRefs: [dbMain] }));
    // Linked to gw-east only in an older version: the current statement decides.
    const d = await risks.create(cso, risk(cso.userId, { assetRefs: [gwEast] }));
    await risks.revise(cso, d.riskId, 1, risk(cso.userId, { assetRefs: [dbMain] }), 'moved');
    // Another tenant's risk on its own asset is not touched.
    const other = await freshTenant(db, 'Other inventory');
    const oso = await member(db, other);
    const otherGw = await asset(db, other, 'Gateway east');
    const foreign = await risks.create(oso, risk(oso.userId, { assetRefs: [otherGw] }));

    // The inventory's transaction rolls back: no task remains.
    await expect(
      db.withTenant(t, async (tx) => {
        await openReassessment(tx, t, gwEast, 'new pharmacy gateway', { clock });
        throw new Error('inventory change failed');
      }),
    ).rejects.toThrow('inventory change failed');
    expect(await risks.tasks(t)).toEqual([]);

    const first = await db.withTenant(t, (tx) =>
      openReassessment(tx, t, gwEast, 'new pharmacy gateway: Surescripts East', { clock }),
    );
    expect(first.opened.map((x) => x.riskId).sort()).toEqual([a.riskId, b.riskId].sort());
    expect(first.opened[0]).toMatchObject({
      assetRef: gwEast,
      cause: 'new pharmacy gateway: Surescripts East',
      status: 'open',
      dueDate: '2026-05-01',
    });
    // A second change while the tasks are open joins them.
    const again = await db.withTenant(t, (tx) =>
      openReassessment(tx, t, gwEast, 'gateway moved to a new host', { clock }),
    );
    expect(again.opened).toEqual([]);
    expect(again.alreadyOpen.map((x) => x.id).sort()).toEqual(first.opened.map((x) => x.id).sort());
    // No linked risk: nothing opened, nothing recorded.
    const none = await db.withTenant(t, (tx) =>
      openReassessment(tx, t, 'printer-9', 'new printer', { clock }),
    );
    expect(none).toEqual({ opened: [], alreadyOpen: [] });
    expect((await risks.tasks(other)).length).toBe(0);
    expect((await risks.get(other, foreign.riskId)).tasks).toEqual([]);
    expect((await risks.get(t, c.riskId)).tasks).toEqual([]);

    const audit = (await auditOf(db, t)).filter((x) => x.action === 'compliance.reassessment.open');
    expect(audit).toHaveLength(2);
    expect(audit[0]).toMatchObject({
      outcome: 'success',
      details: {
        cause: 'new pharmacy gateway: Surescripts East',
        risks: 2,
        opened: 2,
        alreadyOpen: 0,
      },
    });
    expect(audit[0]?.subjects[0]).toEqual({ type: 'asset', id: gwEast });

    // Completing a task records the reassessed risk as a new version tied to the task.
    const task = first.opened.find((x) => x.riskId === a.riskId)!;
    const done = await risks.completeReassessment(
      cso,
      task.id,
      1,
      risk(cso.userId, { assetRefs: [gwEast], likelihood: 5 }),
      'reassessed after the new gateway',
    );
    expect(done.task).toMatchObject({ status: 'done', riskVersion: 2, completedBy: cso.userId });
    expect(done.risk).toMatchObject({ version: 2, taskId: task.id, inherentScore: 25 });
    await expect(
      risks.completeReassessment(cso, task.id, 2, risk(cso.userId), 'again'),
    ).rejects.toMatchObject({ code: 'conflict' });
    // The completed task cannot be reopened or altered, even by the owner.
    const owner2 = await ownerClient();
    try {
      await owner2.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
      await expect(
        owner2.query("UPDATE compliance_reassessment_tasks SET status = 'open' WHERE id = $1", [
          task.id,
        ]),
      ).rejects.toThrow(/only moves once/);
    } finally {
      await owner2.end();
    }
    // The next inventory change opens a fresh task for the reassessed risk.
    const third = await db.withTenant(t, (tx) =>
      openReassessment(tx, t, gwEast, 'certificate renewed', { clock }),
    );
    expect(third.opened.map((x) => x.riskId)).toEqual([a.riskId]);
  });

  it('overdue risk treatments and reassessments raise one alert each through the monitoring store', async () => {
    const t = await freshTenant(db, 'Overdue clinic');
    const cso = await member(db, t);
    const c = new ManualClock(Date.UTC(2026, 3, 1, 10));
    const reg = new RiskRegisterService(db, c);
    const ehrLink = await asset(db, t, 'EHR link');
    const otherAsset = await asset(db, t, 'Other');
    const late = await reg.create(
      cso,
      risk(cso.userId, { assetRefs: [ehrLink], dueDate: '2026-04-10' }),
    );
    await reg.create(cso, risk(cso.userId, { assetRefs: [otherAsset], dueDate: '2026-12-31' }));
    // Accepted risks are not "overdue" (their treatment is done).
    await reg.create(
      cso,
      risk(cso.userId, {
        assetRefs: [otherAsset],
        dueDate: '2026-04-02',
        treatment: 'accept',
        status: 'accepted',
        acceptanceCriteria: 'Owner accepts the residual risk',
      }),
    );
    await db.withTenant(t, (tx) =>
      openReassessment(tx, t, ehrLink, 'new EHR integration', { clock: c, dueInDays: 14 }),
    );
    const scope = (id: string | null) => id === t;
    const name = `compliance-risk-${t.slice(0, 8)}`;
    await runDetector(db, c, { name, scope, startAt: 'head' });

    expect(await runComplianceChecks(db, t, c)).toEqual([]); // nothing due yet
    c.advance(10 * DAY_MS); // 2026-04-11: the risk is one day late
    const raised = await runComplianceChecks(db, t, c);
    expect(raised.map((r) => r.kind)).toEqual(['risk_due']);
    expect(raised[0]).toMatchObject({
      subject: { type: 'risk', id: late.riskId },
      details: { dueDate: '2026-04-10', daysOverdue: 1, ownerId: cso.userId },
    });
    c.advance(5 * DAY_MS); // 2026-04-16: the reassessment (due 04-15) is late too
    const more = await runComplianceChecks(db, t, c);
    expect(more.map((r) => r.kind)).toEqual(['reassessment_due']);
    expect(await runComplianceChecks(db, t, c)).toEqual([]); // each condition once
    c.advance(DAY_MS);
    expect(await runComplianceChecks(db, t, c)).toEqual([]);

    await runDetector(db, c, { name, scope });
    const alerts = (await listAlerts(db, t)).filter((a) => a.rule === 'compliance_overdue');
    expect(
      alerts.map((a) => [a.subject?.split(':')[0], a.details.kind, a.count, a.severity]).sort(),
    ).toEqual([
      ['reassessment_task', 'reassessment_due', 1, 'medium'],
      ['risk', 'risk_due', 1, 'medium'],
    ]);
    // The detector running again does not raise them twice.
    await runDetector(db, c, { name, scope });
    expect((await listAlerts(db, t)).filter((a) => a.rule === 'compliance_overdue')).toHaveLength(
      2,
    );
  });

  it('the leadership report counts inherent and residual heat maps; the HTML escapes what people typed', async () => {
    const t = await freshTenant(db, 'Report <b>&</b> "clinic"');
    const cso = await member(db, t);
    const reg = new RiskRegisterService(db, clock);
    await reg.create(
      cso,
      risk(cso.userId, {
        title: '<script>alert("x")</script> & <img src=x onerror=alert(1)>',
        likelihood: 5,
        impact: 5,
        residualLikelihood: 2,
        residualImpact: 3,
        dueDate: '2026-03-01',
      }),
    );
    await reg.create(
      cso,
      risk(cso.userId, { likelihood: 5, impact: 5, residualLikelihood: 1, residualImpact: 1 }),
    );
    await reg.create(
      cso,
      risk(cso.userId, {
        likelihood: 1,
        impact: 2,
        residualLikelihood: 1,
        residualImpact: 2,
        status: 'closed',
      }),
    );
    const report = await reg.report(t);
    expect(report.totals).toMatchObject({ risks: 3, active: 2, overdue: 1 });
    expect(report.heatMap.inherent[4]?.[4]).toBe(2);
    expect(report.heatMap.residual[1]?.[2]).toBe(1);
    expect(report.heatMap.residual[0]?.[0]).toBe(1);
    expect(report.heatMap.inherent.flat().reduce((x, y) => x + y, 0)).toBe(2); // closed risks left out
    expect(report.topRisks[0]?.residualScore).toBe(6);
    const html = renderRiskReportHtml(report);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>&</b>');
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;',
    );
    expect(html).toContain('Report &lt;b&gt;&amp;&lt;/b&gt; &quot;clinic&quot;');
    expect(html).not.toMatch(/<script|<style|<img|\sstyle=/i);
  });
});
