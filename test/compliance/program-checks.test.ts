import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  BreachService,
  IncidentService,
  PlaybookService,
  PolicyService,
  RiskRegisterService,
  TabletopService,
  TrainingService,
  programEvidence,
  runComplianceChecks,
  type BreachAssessmentInput,
  type ProgramActor,
} from '../../src/compliance/program.js';
import { listAlerts, runDetector } from '../../src/monitoring/index.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { DAY_MS, auditOf, member, risk } from './helpers.js';

const SENTINEL = 'Jane Q. Patient, DOB 1960-01-01';

function assessment(overrides: Partial<BreachAssessmentInput> = {}): BreachAssessmentInput {
  const f = (rating: 'low' | 'moderate' | 'high') => ({ rating, rationale: `rated ${rating}` });
  return {
    factors: {
      natureAndExtent: f('high'),
      unauthorizedPerson: f('moderate'),
      acquiredOrViewed: f('moderate'),
      mitigation: f('low'),
    },
    decision: 'breach',
    exception: null,
    rationale: `A misdirected prescription for ${SENTINEL} reached the wrong pharmacy.`,
    role: 'covered_entity',
    discoveredOn: '2026-03-10',
    occurredFrom: '2026-03-09',
    occurredTo: null,
    affectedByJurisdiction: { CA: 120 },
    phiTypes: ['full_name', 'medications'],
    notice: null,
    ...overrides,
  };
}

describe('periodic compliance checks, incident lifecycle and program evidence', () => {
  let p: TestPlatform;
  let db: Database;

  beforeAll(async () => {
    // The platform's keyring seals the incident narrative.
    p = await testPlatform();
    db = p.db;
  });
  afterAll(async () => {
    await p.close();
  });

  async function setup(start: number): Promise<{
    tenant: TenantId;
    officer: ProgramActor;
    clock: ManualClock;
    incidents: IncidentService;
    breach: BreachService;
  }> {
    const tenant = await freshTenant(db);
    const officer = await member(db, tenant);
    const clock = new ManualClock(start);
    return {
      tenant,
      officer,
      clock,
      incidents: new IncidentService(db, p.keyring, clock),
      breach: new BreachService(db, p.keyring, clock),
    };
  }

  it('breach countdown alerts fire once per step (frozen clock), stop when the notice is sent, and reach the alert store', async () => {
    const { tenant, officer, clock, incidents, breach } = await setup(Date.UTC(2026, 2, 10, 12));
    const inc = await incidents.create(officer, {
      title: 'Misdirected prescription',
      summary: '',
      category: 'misdirected_prescription',
      severity: 'medium',
      discoveredAt: clock.now().toISOString(),
      roles: {},
    });
    await breach.assess(officer, inc.id, 0, assessment());
    const scope = (id: string | null) => id === tenant;
    const name = `compliance-breach-${tenant.slice(0, 8)}`;
    await runDetector(db, clock, { name, scope, startAt: 'head' });
    const run = async () =>
      (await runComplianceChecks(db, tenant, clock))
        .filter((r) => r.kind === 'breach_deadline')
        .map((r) => `${String(r.details.recipient)}:${String(r.details.step)}`);

    expect(await run()).toEqual([]); // 60 days left (individuals), HHS annual log far away
    clock.advance(30 * DAY_MS); // 30 days left
    expect(await run()).toEqual(['individuals:30']);
    expect(await run()).toEqual([]);
    clock.advance(25 * DAY_MS); // 5 days left: 7, not 14 as well
    expect(await run()).toEqual(['individuals:7']);
    expect(await run()).toEqual([]);
    clock.advance(6 * DAY_MS); // one day past the 60-day limit
    expect(await run()).toEqual(['individuals:overdue']);
    expect(await run()).toEqual([]);
    // The notice is sent (late): nothing more for the individuals; the HHS log waits for its year.
    await breach.recordNotice(officer, inc.id, {
      recipient: 'individuals',
      jurisdiction: null,
      sentOn: clock.now().toISOString().slice(0, 10),
      method: 'first-class mail',
      recipientsCount: 120,
    });
    const view = await breach.view(tenant, inc.id);
    expect(view.deadlines.find((d) => d.recipient === 'individuals')).toMatchObject({
      state: 'met_late',
    });
    clock.set(new Date(Date.UTC(2027, 1, 2, 12))); // 27 days before 2027-03-01
    expect(await run()).toEqual(['hhs:30']);
    // A reassessment that finds more people affected adds deadlines; their countdown starts.
    clock.set(new Date(Date.UTC(2027, 1, 3, 12)));
    await breach.assess(officer, inc.id, 1, assessment({ affectedByJurisdiction: { CA: 600 } }));
    expect(await run()).toEqual(['hhs:overdue', 'media:overdue']);
    expect(await run()).toEqual([]);

    await runDetector(db, clock, { name, scope });
    const alerts = (await listAlerts(db, tenant)).filter((a) => a.rule === 'breach_deadline');
    expect(alerts).toHaveLength(6);
    expect(alerts.every((a) => a.count === 1 && a.severity === 'high' && a.status === 'open')).toBe(
      true,
    );
    expect(alerts.map((a) => a.subject)).toEqual(Array(6).fill(`incident:${inc.id}`));
    expect(
      alerts.map((a) => `${String(a.details.recipient)}:${String(a.details.step)}`).sort(),
    ).toEqual([
      'hhs:30',
      'hhs:overdue',
      'individuals:30',
      'individuals:7',
      'individuals:overdue',
      'media:overdue',
    ]);
    // Alerts carry codes and dates, never the assessment's narrative.
    expect(JSON.stringify(alerts)).not.toContain('Jane');
  });

  it('policy review due, acknowledgements missing and expired training each alert once', async () => {
    const { tenant, officer, clock } = await setup(Date.UTC(2026, 0, 5, 12));
    const approver = await member(db, tenant);
    const worker = await member(db, tenant, ['prescriber']);
    const policies = new PolicyService(db, clock);
    const training = new TrainingService(db, clock);
    const p = await policies.create(officer, 'security-incident', {
      title: 'Security incident procedures',
      body: 'Report suspected incidents to the security officer at once.',
      effectiveDate: '2026-01-05',
      reviewCycleMonths: 6,
      acknowledgementDays: 14,
    });
    await policies.approve(approver, p.id, 1);
    await policies.acknowledge(officer, p.id, 1);
    await policies.acknowledge(approver, p.id, 1);
    const t1 = await training.record(officer, {
      userId: worker.userId,
      course: 'hipaa-security-awareness',
      completedOn: '2025-01-20',
      expiresOn: '2026-01-20',
      evidenceRef: 'LMS certificate 2291',
      supersedes: null,
    });
    expect(t1.state).toBe('expiring');
    const kinds = async () =>
      (await runComplianceChecks(db, tenant, clock)).map((r) => r.kind).sort();
    expect(await kinds()).toEqual([]);
    clock.set(new Date(Date.UTC(2026, 0, 20, 12))); // the acknowledgement window has closed
    expect(await kinds()).toEqual(['acknowledgement_missing']);
    clock.set(new Date(Date.UTC(2026, 0, 21, 12))); // training expired yesterday
    expect(await kinds()).toEqual(['training_expired']);
    expect(await kinds()).toEqual([]);
    // A fresh completion ends the expiry; the old record stays in the history.
    await training.record(officer, {
      userId: worker.userId,
      course: 'hipaa-security-awareness',
      completedOn: '2026-01-21',
      expiresOn: '2027-01-21',
      evidenceRef: null,
      supersedes: null,
    });
    expect((await training.current(tenant)).map((r) => [r.completedOn, r.state])).toEqual([
      ['2026-01-21', 'current'],
    ]);
    expect(await training.history(tenant, worker.userId)).toHaveLength(2);
    clock.set(new Date(Date.UTC(2026, 6, 5, 12))); // six months on: review due
    expect(await kinds()).toEqual(['policy_review_due']);
    const reviewed = await policies.review(officer, p.id, { outcome: 'no_change', note: null });
    expect(reviewed.nextReview).toBe('2027-01-05');
    expect(reviewed.reviewDue).toBe(false);
    expect(await kinds()).toEqual([]);
    const audit = (await auditOf(db, tenant)).filter((a) => a.action === 'compliance.overdue');
    expect(audit.map((a) => a.details.kind)).toEqual([
      'acknowledgement_missing',
      'training_expired',
      'policy_review_due',
    ]);
    expect(audit[0]?.details).toMatchObject({ missing: 1, version: 1, dueOn: '2026-01-19' });
  });

  it('corrections of training supersede; a policy version is approved only by someone else and only if newest', async () => {
    const { tenant, officer, clock } = await setup(Date.UTC(2026, 0, 5, 12));
    const other = await member(db, tenant);
    const policies = new PolicyService(db, clock);
    const p = await policies.create(officer, 'workstation-use', {
      title: 'Workstation use',
      body: 'Lock the screen when you step away.',
      effectiveDate: '2026-01-01',
      reviewCycleMonths: 12,
      acknowledgementDays: 30,
    });
    await expect(policies.approve(officer, p.id, 1)).rejects.toMatchObject({
      code: 'forbidden',
      detail: 'author',
    });
    // The other officer drafts version 2; version 1 can no longer be approved, and version 2 not by its author.
    const v2 = await policies.revise(
      other,
      p.id,
      1,
      {
        title: 'Workstation use',
        body: 'Lock the screen (Win+L) when you step away.',
        effectiveDate: '2026-02-01',
        reviewCycleMonths: 12,
        acknowledgementDays: 30,
      },
      'keyboard shortcut added',
    );
    expect(v2.latest).toMatchObject({ version: 2, authorId: other.userId });
    await expect(policies.approve(other, p.id, 1)).rejects.toMatchObject({ code: 'conflict' });
    await expect(policies.approve(other, p.id, 2)).rejects.toMatchObject({ detail: 'author' });
    const approved = await policies.approve(officer, p.id, 2);
    expect(approved.effective).toBeNull(); // effective from February
    clock.set(new Date(Date.UTC(2026, 1, 1, 12)));
    expect((await policies.get(tenant, p.id)).effective?.version).toBe(2);
    // Even a direct insert cannot approve one's own version.
    await expect(
      db.withTenant(tenant, (tx) =>
        tx.query(
          `INSERT INTO compliance_policy_approvals (tenant_id, policy_id, version, author_id, approved_by, approved_at)
           VALUES ($1, $2, 1, $3, $3, now())`,
          [tenant, p.id, officer.userId],
        ),
      ),
    ).rejects.toMatchObject({ code: '23514' });

    const training = new TrainingService(db, clock);
    const wrong = await training.record(officer, {
      userId: other.userId,
      course: 'phishing',
      completedOn: '2026-01-10',
      expiresOn: '2026-01-11',
      evidenceRef: null,
      supersedes: null,
    });
    const fixed = await training.record(officer, {
      userId: other.userId,
      course: 'phishing',
      completedOn: '2026-01-10',
      expiresOn: '2027-01-10',
      evidenceRef: null,
      supersedes: wrong.id,
    });
    expect((await training.current(tenant)).map((r) => r.id)).toEqual([fixed.id]);
    await expect(
      training.record(officer, { ...fixed, supersedes: wrong.id, evidenceRef: null }),
    ).rejects.toMatchObject({ code: 'conflict' });
  });

  it('an incident closes only with lessons learned; a closed incident refuses changes until reopened; playbook edits do not rewrite it', async () => {
    const { tenant, officer, clock, incidents } = await setup(Date.UTC(2026, 2, 1, 12));
    const playbooks = new PlaybookService(db, clock);
    const before = await incidents.create(officer, {
      title: 'Laptop left on a train',
      summary: '',
      category: 'lost_device',
      severity: 'medium',
      discoveredAt: clock.now().toISOString(),
      roles: { incident_commander: officer.userId },
    });
    const shipped = (await playbooks.history(tenant, 'lost_device'))[0]!;
    await playbooks.update(
      officer,
      'lost_device',
      0,
      [...shipped.items, { key: 'police_report', phase: 'triage', text: 'File a police report.' }],
      'police report needed for insurance',
    );
    await expect(
      playbooks.update(officer, 'lost_device', 0, shipped.items, 'stale'),
    ).rejects.toMatchObject({ code: 'conflict' });
    const after = await incidents.create(officer, {
      title: 'Phone lost',
      summary: '',
      category: 'lost_device',
      severity: 'low',
      discoveredAt: clock.now().toISOString(),
      roles: {},
    });
    expect(after.playbookVersion).toBe(1);
    expect(after.checklistItems.map((i) => i.key)).toContain('police_report');
    const again = await incidents.get(tenant, before.id);
    expect(again.playbookVersion).toBe(0);
    expect(again.checklistItems.map((i) => i.key)).not.toContain('police_report');

    await expect(
      incidents.update(officer, before.id, 1, { status: 'closed' }, 'done'),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'lessonsLearned' });
    const closed = await incidents.update(
      officer,
      before.id,
      1,
      {
        status: 'closed',
        lessonsLearned: 'Full-disk encryption held; enforce auto-lock at 5 minutes.',
      },
      'closed after review',
    );
    expect(closed.current).toMatchObject({ version: 2, status: 'closed' });
    await expect(incidents.addNote(officer, before.id, 'late note')).resolves.toBeDefined();
    await expect(
      incidents.setChecklistItem(officer, before.id, 'remote_wipe', true),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      incidents.update(officer, before.id, 2, { severity: 'high' }, 'edit'),
    ).rejects.toMatchObject({ code: 'conflict' });
    const reopened = await incidents.update(officer, before.id, 2, { status: 'open' }, 'new facts');
    expect(reopened.history.map((v) => v.status)).toEqual(['open', 'closed', 'open']);
    expect(reopened.timeline.map((e) => e.entry)).toEqual([1, 2, 3, 4]);
  });

  it('program evidence is plain JSON with structure, counts and ratings, and none of the narrative', async () => {
    const { tenant, officer, clock, incidents, breach } = await setup(Date.UTC(2026, 2, 10, 12));
    const risks = new RiskRegisterService(db, clock);
    await risks.create(officer, risk(officer.userId));
    const inc = await incidents.create(officer, {
      title: 'Misdirected prescription',
      summary: `Sent to the wrong pharmacy for ${SENTINEL}`,
      category: 'misdirected_prescription',
      severity: 'medium',
      discoveredAt: clock.now().toISOString(),
      roles: {},
    });
    await incidents.addNote(officer, inc.id, `Called the pharmacy about ${SENTINEL}`);
    await breach.assess(
      officer,
      inc.id,
      0,
      assessment({
        notice: {
          whatHappened: `A prescription for ${SENTINEL} went to the wrong pharmacy.`,
          stepsIndividualsShouldTake: 'None needed.',
          whatWeAreDoing: 'Fixing the directory.',
          contact: { tollFreeNumber: '888-555-0100', website: 'https://clinic.example/privacy' },
        },
      }),
    );
    await new TabletopService(db, clock).record(officer, {
      heldOn: '2026-03-01',
      title: 'Ransomware on the pharmacy gateway',
      category: 'compromised_endpoint',
      scenario: 'The gateway host is encrypted overnight.',
      participants: ['security_lead', 'privacy_officer'],
      findings: 'Restore took 6 hours; target is 2.',
      actionItems: [{ text: 'Automate restore', ownerId: officer.userId, dueDate: '2026-06-01' }],
    });
    const evidence = await db.withTenant(tenant, (tx) => programEvidence(tx, tenant, clock));
    const text = JSON.stringify(evidence);
    expect(text).not.toContain('Jane');
    expect(JSON.parse(text)).toEqual(evidence); // plain JSON: no Dates, no functions
    expect(evidence.risks.register).toHaveLength(1);
    expect(evidence.risks.report.heatMap.inherent[3]?.[4]).toBe(1);
    expect(evidence.incidents.incidents[0]).toMatchObject({
      id: inc.id,
      category: 'misdirected_prescription',
      timelineEntries: 3,
      breach: {
        decision: 'breach',
        factorRatings: { natureAndExtent: 'high', mitigation: 'low' },
        affectedTotal: 120,
        deadlines: [
          expect.objectContaining({
            recipient: 'individuals',
            dueOn: '2026-05-09',
            state: 'pending',
          }),
          expect.objectContaining({
            recipient: 'hhs',
            dueOn: '2027-03-01',
            citation: '45 CFR 164.408(c)',
          }),
        ],
      },
    });
    expect(evidence.incidents.tabletopExercises).toHaveLength(1);
    expect(evidence.retention.years).toBe(6);
    expect(evidence.risks.register[0]).toMatchObject({ retainUntil: '2032-03-10' });
  });
});
