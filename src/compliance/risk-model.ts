/** The vocabulary of the risk register (shared by the register, its report and the checks). */
export const TREATMENTS = ['mitigate', 'accept', 'transfer', 'avoid'] as const;
export type Treatment = (typeof TREATMENTS)[number];
export const RISK_STATUSES = ['open', 'in_treatment', 'accepted', 'closed'] as const;
export type RiskStatus = (typeof RISK_STATUSES)[number];

/** What a person states about a risk (one version). */
export interface RiskInput {
  readonly title: string;
  /** Inventory asset references (opaque ids owned by the inventory). */
  readonly assetRefs: readonly string[];
  readonly threat: string;
  readonly vulnerability: string;
  /** Inherent (before controls) likelihood and impact, 1-5. */
  readonly likelihood: number;
  readonly impact: number;
  /** Residual (with the linked controls in force) likelihood and impact, 1-5. */
  readonly residualLikelihood: number;
  readonly residualImpact: number;
  readonly ownerId: string;
  readonly treatment: Treatment;
  /** Control ids from the control catalog (opaque here). */
  readonly controlIds: readonly string[];
  readonly acceptanceCriteria: string;
  /** YYYY-MM-DD by which the treatment is due, or null. */
  readonly dueDate: string | null;
  readonly status: RiskStatus;
}

export interface RiskVersion extends RiskInput {
  readonly riskId: string;
  readonly version: number;
  readonly inherentScore: number;
  readonly residualScore: number;
  readonly reason: string;
  readonly taskId: string | null;
  readonly changedBy: string;
  readonly changedAt: string;
}

export interface ReassessmentTask {
  readonly id: string;
  readonly riskId: string;
  readonly assetRef: string;
  readonly cause: string;
  readonly openedAt: string;
  readonly dueDate: string;
  readonly status: 'open' | 'done';
  readonly completedBy: string | null;
  readonly completedAt: string | null;
  readonly riskVersion: number | null;
}
