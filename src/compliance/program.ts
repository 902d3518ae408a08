/**
 * Public API of the compliance program (part A): risk register with reassessment tasks and the
 * leadership report, incidents with playbooks, containment, preserved audit evidence and tabletop
 * exercises, the breach assessment and HIPAA breach clock, policies and training, the periodic
 * checks that raise overdue and countdown alerts, and the program evidence for the bundle.
 * Every record is append-only (versions supersede, nothing is deleted) and every change is
 * audited in its transaction.
 */
import { cryptoRandom, type Clock, type Random } from '../core/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Database } from '../db/index.js';
import { BreachService } from './breach.service.js';
import { ContainmentService, type ContainmentPorts } from './containment.service.js';
import { IncidentEvidenceService } from './incident-evidence.service.js';
import { IncidentService } from './incident.service.js';
import { PlaybookService } from './playbooks.js';
import { PolicyService } from './policy.service.js';
import { RiskRegisterService } from './risk-register.service.js';
import { TabletopService } from './tabletop.service.js';
import { TrainingService } from './training.service.js';

export * from './breach-clock.js';
export {
  DESTROYED_TEXT,
  NARRATIVE_TABLES,
  NARRATIVE_WITHHELD,
  narrativeCipher,
  type Narrative,
} from './incident-narrative.js';
export {
  LETTER_PLACEHOLDERS,
  PHI_TYPES,
  PHI_TYPE_KEYS,
  draftBreachLetter,
  missingElements,
  type DraftLetter,
  type LetterFacts,
  type NoticeContent,
  type PhiType,
} from './breach-letter.js';
export {
  BREACH_DECISIONS,
  BREACH_EXCEPTIONS,
  BREACH_FACTORS,
  BREACH_FACTOR_KEYS,
  BreachService,
  FACTOR_RATINGS,
  type BreachAssessment,
  type BreachAssessmentInput,
  type BreachClockView,
  type BreachDecision,
  type BreachException,
  type BreachFactor,
  type BreachNotice,
  type FactorAssessment,
  type FactorRating,
} from './breach.service.js';
export {
  OVERDUE_KINDS,
  runComplianceChecks,
  runComplianceChecksForAll,
  type ComplianceCheckOptions,
  type OverdueKind,
  type RaisedAlert,
} from './compliance-checks.js';
export {
  INCIDENT_REVOKE_REASON,
  identityContainment,
  integrationContainment,
  keyRotationContainment,
} from './containment-adapters.js';
export {
  CONTAINMENT_ACTIONS,
  ContainmentService,
  type ContainmentAction,
  type ContainmentPorts,
  type ContainmentRequest,
  type ContainmentResult,
} from './containment.service.js';
export { addDays, addMonths, daysBetween, isIsoDate, utcDay } from './dates.js';
export { escapeHtml } from './html.js';
export {
  IncidentEvidenceService,
  MAX_EVIDENCE_RECORDS,
  type PreservedEvidence,
} from './incident-evidence.service.js';
export { TIMELINE_KINDS, type TimelineEntry, type TimelineKind } from './incident-timeline.js';
export {
  INCIDENT_ROLES,
  INCIDENT_STATUSES,
  IncidentService,
  SEVERITIES,
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
} from './incident.service.js';
export {
  DEFAULT_PLAYBOOKS,
  INCIDENT_CATEGORIES,
  PLAYBOOK_PHASES,
  PlaybookService,
  type IncidentCategory,
  type Playbook,
  type PlaybookItem,
  type PlaybookPhase,
} from './playbooks.js';
export {
  PolicyService,
  REVIEW_OUTCOMES,
  effectiveVersion,
  nextReviewOf,
  type PolicyContent,
  type PolicyDetail,
  type PolicyReview,
  type PolicySummary,
  type PolicyVersion,
} from './policy.service.js';
export { programEvidence, type ProgramEvidence } from './program-evidence.js';
export { RETENTION_YEARS, retainUntil, type ProgramActor } from './program-common.js';
export {
  REASSESSMENT_DUE_DAYS,
  RISK_STATUSES,
  RiskRegisterService,
  TREATMENTS,
  openReassessment,
  type OpenReassessmentOptions,
  type ReassessmentTask,
  type RiskInput,
  type RiskStatus,
  type RiskVersion,
  type Treatment,
} from './risk-register.service.js';
export {
  buildRiskReport,
  isRiskOverdue,
  renderRiskReportHtml,
  type HeatMap,
  type ReportRisk,
  type RiskReport,
} from './risk-report.js';
export {
  TabletopService,
  type ActionItem,
  type TabletopExercise,
  type TabletopInput,
} from './tabletop.service.js';
export {
  EXPIRING_WITHIN_DAYS,
  TrainingService,
  trainingState,
  type TrainingInput,
  type TrainingRecord,
  type TrainingState,
} from './training.service.js';

/** The compliance-program services, composed once (src/platform.ts or src/main.ts). */
export interface ComplianceProgram {
  readonly risks: RiskRegisterService;
  readonly incidents: IncidentService;
  readonly playbooks: PlaybookService;
  readonly containment: ContainmentService;
  readonly evidence: IncidentEvidenceService;
  readonly tabletops: TabletopService;
  readonly breach: BreachService;
  readonly policies: PolicyService;
  readonly training: TrainingService;
}

/** The program's services; `keyring` seals the incident narrative (incident-narrative.ts). */
export function composeComplianceProgram(
  db: Database,
  keyring: Keyring,
  clock: Clock,
  ports: ContainmentPorts,
  random: Random = cryptoRandom,
): ComplianceProgram {
  return {
    risks: new RiskRegisterService(db, clock, random),
    incidents: new IncidentService(db, keyring, clock, random),
    playbooks: new PlaybookService(db, clock),
    containment: new ContainmentService(db, keyring, clock, ports),
    evidence: new IncidentEvidenceService(db, keyring, clock, random),
    tabletops: new TabletopService(db, clock, random),
    breach: new BreachService(db, keyring, clock, random),
    policies: new PolicyService(db, clock, random),
    training: new TrainingService(db, clock, random),
  };
}
