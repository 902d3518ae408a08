/**
 * Runs every control's live check for a tenant, records the run (append-only evidence that the
 * controls operate, 45 CFR 164.308(a)(8)), and renders the report as JSON and as HTML in which
 * every value is escaped.
 */
import { randomUUID } from 'node:crypto';
import { AppError, isAppError, type TenantId } from '../core/index.js';
import { IDENTITY_CHECKS, type Check } from './control-checks.js';
import { PLATFORM_CHECKS } from './control-checks-platform.js';
import type { ControlDeps } from './control-ports.js';
import {
  CONTROL_IDS,
  CONTROLS,
  REQUIREMENTS,
  type ControlId,
  type Framework,
  type RequirementKind,
} from './controls.js';
import { escapeXml } from './data-flow-map.js';
import { actorLabel, auditCompliance, type ComplianceActor } from './versioned-store.js';

/** Every control's check (a control without one is a programming error, caught at load). */
export const CHECKS: Readonly<Record<ControlId, Check>> = (() => {
  const all: Partial<Record<ControlId, Check>> = { ...IDENTITY_CHECKS, ...PLATFORM_CHECKS };
  for (const id of CONTROL_IDS) {
    if (all[id] === undefined) throw new TypeError(`control ${id} has no live check`);
  }
  return all as Record<ControlId, Check>;
})();

export interface ControlResult {
  readonly controlId: ControlId;
  readonly title: string;
  readonly check: string;
  readonly status: 'pass' | 'fail';
  readonly details: string;
  readonly checkedAt: string;
}

export interface RequirementResult {
  readonly id: string;
  readonly framework: Framework;
  readonly kind: RequirementKind;
  readonly designation: string | null;
  readonly standard: string | null;
  readonly title: string;
  readonly controls: readonly ControlId[];
  /** pass: every mapped control passes; fail: none does; partial otherwise. */
  readonly status: 'pass' | 'partial' | 'fail';
}

export interface ControlReport {
  readonly format: 'scrip-control-report/v1';
  readonly runId: string;
  readonly tenantId: string;
  readonly generatedAt: string;
  readonly runBy: string;
  readonly summary: { readonly passed: number; readonly failed: number };
  readonly controls: readonly ControlResult[];
  readonly requirements: readonly RequirementResult[];
}

/** Runs one check; an exception is a failed check, reported by code (never internals). */
async function runCheck(
  deps: ControlDeps,
  tenantId: TenantId,
  id: ControlId,
): Promise<ControlResult> {
  const c = CONTROLS[id];
  let outcome: { status: 'pass' | 'fail'; details: string };
  try {
    outcome = await CHECKS[id](deps, tenantId);
  } catch (err) {
    outcome = {
      status: 'fail',
      details: `the check could not run (${isAppError(err) ? err.code : 'error'})`,
    };
  }
  return {
    controlId: id,
    title: c.title,
    check: c.check,
    status: outcome.status,
    details: outcome.details.slice(0, 1000),
    checkedAt: deps.clock.now().toISOString(),
  };
}

function requirementResults(controls: readonly ControlResult[]): RequirementResult[] {
  const status = new Map(controls.map((c) => [c.controlId, c.status]));
  return REQUIREMENTS.map((r) => {
    const passed = r.controls.filter((c) => status.get(c) === 'pass').length;
    return {
      id: r.id,
      framework: r.framework,
      kind: r.kind,
      designation: r.designation ?? null,
      standard: r.standard ?? null,
      title: r.title,
      controls: r.controls,
      status: passed === r.controls.length ? 'pass' : passed === 0 ? 'fail' : 'partial',
    };
  });
}

interface RunRow {
  id: string;
  run_at: Date;
  run_by: string;
  results: ControlResult[];
}

function toReport(tenantId: TenantId, r: RunRow): ControlReport {
  const controls = r.results;
  return {
    format: 'scrip-control-report/v1',
    runId: r.id,
    tenantId,
    generatedAt: r.run_at.toISOString(),
    runBy: r.run_by,
    summary: {
      passed: controls.filter((c) => c.status === 'pass').length,
      failed: controls.filter((c) => c.status === 'fail').length,
    },
    controls,
    requirements: requirementResults(controls),
  };
}

export class ControlRunner {
  constructor(private readonly deps: ControlDeps) {}

  /** Runs every check now, records the run and its audit record, and returns the report. */
  async run(tenantId: TenantId, actor: ComplianceActor): Promise<ControlReport> {
    const results: ControlResult[] = [];
    for (const id of CONTROL_IDS) results.push(await runCheck(this.deps, tenantId, id));
    const row: RunRow = {
      id: randomUUID(),
      run_at: this.deps.clock.now(),
      run_by: actorLabel(actor),
      results,
    };
    const report = toReport(tenantId, row);
    await this.deps.db.withTenant(tenantId, async (tx) => {
      await tx.query(
        `INSERT INTO compliance_control_runs (id, tenant_id, run_at, run_by, passed, failed, results)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          row.id,
          tenantId,
          row.run_at,
          row.run_by,
          report.summary.passed,
          report.summary.failed,
          JSON.stringify(results),
        ],
      );
      await auditCompliance(tx, this.deps.clock, tenantId, actor, 'compliance.controls.run', {
        subjects: [{ type: 'compliance_control_run', id: row.id }],
        details: { passed: report.summary.passed, failed: report.summary.failed },
      });
    });
    return report;
  }

  /** The latest recorded run, or `not_found`. */
  async latest(tenantId: TenantId): Promise<ControlReport> {
    const row = await this.deps.db.withTenant(
      tenantId,
      async (tx) =>
        (
          await tx.query<RunRow>(
            `SELECT id, run_at, run_by, results FROM compliance_control_runs
            ORDER BY run_at DESC, db_time DESC LIMIT 1`,
          )
        ).rows[0],
    );
    if (row === undefined) throw new AppError('not_found', 'no control run yet');
    return toReport(tenantId, row);
  }
}

const e = escapeXml;

/** The report as a standalone HTML page; every value from data is escaped. */
export function reportHtml(report: ControlReport): string {
  const badge = (s: string): string => `<span class="s ${e(s)}">${e(s.toUpperCase())}</span>`;
  const controlRows = report.controls
    .map(
      (c) =>
        `<tr><td><code>${e(c.controlId)}</code></td><td>${e(c.title)}<div class="m">${e(c.check)}</div></td><td>${badge(c.status)}</td><td>${e(c.details)}</td><td>${e(c.checkedAt)}</td></tr>`,
    )
    .join('\n');
  const reqRows = report.requirements
    .map(
      (r) =>
        `<tr><td>${e(r.framework === 'hipaa' ? '45 CFR' : '21 CFR')} ${e(r.id)}</td><td>${e(r.title)}</td><td>${e(r.kind.replace(/_/g, ' '))}${r.designation === null ? '' : ` (${e(r.designation)})`}</td><td>${r.controls.map((c) => `<code>${e(c)}</code>`).join(' ')}</td><td>${badge(r.status)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Scrip control report ${e(report.generatedAt)}</title>
<style>
body{font:14px/1.4 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;color:#202124}
table{border-collapse:collapse;width:100%;margin:1em 0 2em}
th,td{border:1px solid #dadce0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4}.m{color:#5f6368;font-size:12px}
.s{font-weight:bold;padding:1px 6px;border-radius:4px}
.pass{background:#e6f4ea;color:#137333}.fail{background:#fce8e6;color:#a50e0e}.partial{background:#fef7e0;color:#b06000}
</style>
</head>
<body>
<h1>Scrip control report</h1>
<p>Tenant <code>${e(report.tenantId)}</code> · run <code>${e(report.runId)}</code> · generated ${e(report.generatedAt)} by ${e(report.runBy)}</p>
<p>${e(String(report.summary.passed))} controls pass, ${e(String(report.summary.failed))} fail.</p>
<h2>Controls and their live checks</h2>
<table>
<thead><tr><th>Control</th><th>What it checks</th><th>Result</th><th>Details</th><th>Checked at</th></tr></thead>
<tbody>
${controlRows}
</tbody>
</table>
<h2>Requirements</h2>
<table>
<thead><tr><th>Citation</th><th>Title</th><th>Kind</th><th>Controls</th><th>Status</th></tr></thead>
<tbody>
${reqRows}
</tbody>
</table>
</body>
</html>
`;
}
