/**
 * The periodic risk report for leadership (45 CFR 164.308(a)(1)(ii)(B) risk management): totals,
 * the 5x5 heat maps of inherent and residual risk, the highest residual risks, overdue treatments
 * and open reassessments. Built as JSON; the HTML view renders the same object with every value
 * escaped (risk titles and owners are free text typed by people).
 */
import { daysBetween } from './dates.js';
import { html, type Markup } from './html.js';
import {
  RISK_STATUSES,
  TREATMENTS,
  type ReassessmentTask,
  type RiskStatus,
  type RiskVersion,
  type Treatment,
} from './risk-model.js';

/** Counts by [likelihood - 1][impact - 1]. */
export type HeatMap = number[][];

export interface ReportRisk {
  readonly riskId: string;
  readonly title: string;
  readonly ownerId: string;
  readonly assetRefs: readonly string[];
  readonly inherentScore: number;
  readonly residualScore: number;
  readonly treatment: Treatment;
  readonly status: RiskStatus;
  readonly dueDate: string | null;
  readonly daysOverdue: number;
  readonly version: number;
}

export interface RiskReport {
  readonly generatedAt: string;
  readonly asOf: string;
  readonly organisation: string;
  readonly totals: {
    readonly risks: number;
    readonly active: number;
    readonly byStatus: Readonly<Record<RiskStatus, number>>;
    readonly byTreatment: Readonly<Record<Treatment, number>>;
    readonly overdue: number;
    readonly openReassessments: number;
    readonly overdueReassessments: number;
  };
  /** Active risks (every status but closed), counted by likelihood (rows) and impact (columns). */
  readonly heatMap: { readonly inherent: HeatMap; readonly residual: HeatMap };
  readonly topRisks: readonly ReportRisk[];
  readonly overdue: readonly ReportRisk[];
  readonly reassessments: readonly (ReassessmentTask & { readonly daysOverdue: number })[];
}

function emptyMap(): HeatMap {
  return Array.from({ length: 5 }, () => [0, 0, 0, 0, 0]);
}

function bump(map: HeatMap, likelihood: number, impact: number): void {
  const row = map[likelihood - 1];
  if (row !== undefined && impact >= 1 && impact <= 5) row[impact - 1] = (row[impact - 1] ?? 0) + 1;
}

/** A risk is overdue when its treatment is still open past its due date. */
export function isRiskOverdue(r: RiskVersion, today: string): boolean {
  return (
    r.dueDate !== null && r.dueDate < today && (r.status === 'open' || r.status === 'in_treatment')
  );
}

function toReportRisk(r: RiskVersion, today: string): ReportRisk {
  return {
    riskId: r.riskId,
    title: r.title,
    ownerId: r.ownerId,
    assetRefs: r.assetRefs,
    inherentScore: r.inherentScore,
    residualScore: r.residualScore,
    treatment: r.treatment,
    status: r.status,
    dueDate: r.dueDate,
    daysOverdue: isRiskOverdue(r, today) && r.dueDate !== null ? daysBetween(r.dueDate, today) : 0,
    version: r.version,
  };
}

export function buildRiskReport(
  risks: readonly RiskVersion[],
  tasks: readonly ReassessmentTask[],
  meta: { readonly organisation: string; readonly now: Date; readonly today: string },
  topN = 10,
): RiskReport {
  const { today } = meta;
  const byStatus = Object.fromEntries(RISK_STATUSES.map((s) => [s, 0])) as Record<
    RiskStatus,
    number
  >;
  const byTreatment = Object.fromEntries(TREATMENTS.map((t) => [t, 0])) as Record<
    Treatment,
    number
  >;
  const inherent = emptyMap();
  const residual = emptyMap();
  const active = risks.filter((r) => r.status !== 'closed');
  for (const r of risks) {
    byStatus[r.status] += 1;
    byTreatment[r.treatment] += 1;
  }
  for (const r of active) {
    bump(inherent, r.likelihood, r.impact);
    bump(residual, r.residualLikelihood, r.residualImpact);
  }
  const ranked = [...active].sort(
    (a, b) =>
      b.residualScore - a.residualScore ||
      b.inherentScore - a.inherentScore ||
      a.riskId.localeCompare(b.riskId),
  );
  const overdue = risks.filter((r) => isRiskOverdue(r, today)).map((r) => toReportRisk(r, today));
  const open = tasks.filter((t) => t.status === 'open');
  const reassessments = open.map((t) => ({
    ...t,
    daysOverdue: t.dueDate < today ? daysBetween(t.dueDate, today) : 0,
  }));
  return {
    generatedAt: meta.now.toISOString(),
    asOf: today,
    organisation: meta.organisation,
    totals: {
      risks: risks.length,
      active: active.length,
      byStatus,
      byTreatment,
      overdue: overdue.length,
      openReassessments: open.length,
      overdueReassessments: reassessments.filter((t) => t.daysOverdue > 0).length,
    },
    heatMap: { inherent, residual },
    topRisks: ranked.slice(0, topN).map((r) => toReportRisk(r, today)),
    overdue,
    reassessments,
  };
}

function heatTable(caption: string, map: HeatMap): Markup {
  const impacts = [1, 2, 3, 4, 5];
  const rows = [5, 4, 3, 2, 1].map(
    (l) =>
      html`<tr>
        <th scope="row">${l}</th>
        ${impacts.map((i) => html`<td data-score="${l * i}">${map[l - 1]?.[i - 1] ?? 0}</td>`)}
      </tr>`,
  );
  return html`<table class="heat-map">
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        <th scope="col">Likelihood (rows) by impact (columns)</th>
        ${impacts.map((i) => html`<th scope="col">${i}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

function riskRows(list: readonly ReportRisk[]): Markup {
  if (list.length === 0) return html`<p>None.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th scope="col">Risk</th>
        <th scope="col">Assets</th>
        <th scope="col">Owner</th>
        <th scope="col">Inherent</th>
        <th scope="col">Residual</th>
        <th scope="col">Treatment</th>
        <th scope="col">Status</th>
        <th scope="col">Due</th>
        <th scope="col">Days overdue</th>
      </tr>
    </thead>
    <tbody>
      ${list.map(
        (r) =>
          html`<tr>
            <td>${r.title}</td>
            <td>${r.assetRefs.join(', ')}</td>
            <td>${r.ownerId}</td>
            <td>${r.inherentScore}</td>
            <td>${r.residualScore}</td>
            <td>${r.treatment}</td>
            <td>${r.status}</td>
            <td>${r.dueDate ?? ''}</td>
            <td>${r.daysOverdue}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/**
 * The report as a standalone HTML document: no script, no inline style (the server's CSP allows
 * neither), every value escaped.
 */
export function renderRiskReportHtml(report: RiskReport): string {
  const t = report.totals;
  const doc = html`<!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Risk report: ${report.organisation} (${report.asOf})</title>
      </head>
      <body>
        <h1>Risk report: ${report.organisation}</h1>
        <p>As of ${report.asOf}; generated ${report.generatedAt}.</p>
        <h2>Totals</h2>
        <dl>
          <dt>Risks</dt>
          <dd>${t.risks} (${t.active} active)</dd>
          ${RISK_STATUSES.map(
            (s) =>
              html`<dt>Status ${s}</dt>
                <dd>${t.byStatus[s]}</dd>`,
          )}
          ${TREATMENTS.map(
            (s) =>
              html`<dt>Treatment ${s}</dt>
                <dd>${t.byTreatment[s]}</dd>`,
          )}
          <dt>Overdue treatments</dt>
          <dd>${t.overdue}</dd>
          <dt>Open reassessments</dt>
          <dd>${t.openReassessments} (${t.overdueReassessments} overdue)</dd>
        </dl>
        <h2>Heat maps (active risks)</h2>
        ${heatTable('Inherent risk', report.heatMap.inherent)}
        ${heatTable('Residual risk', report.heatMap.residual)}
        <h2>Highest residual risks</h2>
        ${riskRows(report.topRisks)}
        <h2>Overdue treatments</h2>
        ${riskRows(report.overdue)}
        <h2>Open reassessments</h2>
        ${
          report.reassessments.length === 0
            ? html`<p>None.</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th scope="col">Risk</th>
                    <th scope="col">Asset</th>
                    <th scope="col">Cause</th>
                    <th scope="col">Due</th>
                    <th scope="col">Days overdue</th>
                  </tr>
                </thead>
                <tbody>
                  ${report.reassessments.map(
                    (r) =>
                      html`<tr>
                        <td>${r.riskId}</td>
                        <td>${r.assetRef}</td>
                        <td>${r.cause}</td>
                        <td>${r.dueDate}</td>
                        <td>${r.daysOverdue}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </body>
    </html> `;
  return doc.value;
}
