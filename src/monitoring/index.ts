/**
 * Public API of the monitoring domain: alert rules over the audit stream (45 CFR
 * 164.308(a)(1)(ii)(D), 164.312(b)), stored and acknowledged alerts, alert sinks, and the daily
 * EPCS audit review (21 CFR 1311.150). Other domains import only this module; the action-name
 * constants are what they must emit for the rules to see their events.
 */
export * as MonitoringActions from './actions.js';
export {
  AUDIT_VERIFY_FAILED,
  AUDIT_WITNESS_FAILED,
  AUTH_LOGIN_FAILURE,
  AUTH_RECOVERY_CODE_USED,
  BREAKGLASS_CLOSE,
  BREAKGLASS_OPEN,
  BREAKGLASS_PREFIX,
  EPCS_PERMISSION_GRANT,
  EPCS_PERMISSION_PREFIX,
  EPCS_PERMISSION_REVOKE,
  IDENTITY_PROOFING_PREFIX,
  NETWORK_DELIVERY_FAILED,
  PATIENT_ACTION_PREFIX,
  PATIENT_READ,
  PATIENT_SEARCH,
  RX_SIGN_CONTROLLED,
  RX_TRANSMIT_FAILED,
} from './actions.js';
export {
  DEFAULT_RULES,
  RULE_IDS,
  RULE_SEVERITY,
  isRuleId,
  loadRuleSet,
  resolveRule,
  setRuleConfig,
  type RuleChange,
  type RuleConfig,
  type RuleId,
  type RuleParams,
  type RuleSet,
  type Severity,
} from './rules.js';
export {
  acknowledgeAlert,
  closeAlert,
  listAlerts,
  upsertAlert,
  type Alert,
  type AlertDecision,
  type AlertStatus,
  type ListAlertsOptions,
} from './alert-store.js';
export type { AlertCandidate } from './evaluate.js';
export {
  runDetector,
  runDetectorBatch,
  type DetectorBatch,
  type DetectorOptions,
} from './detector.js';
export { deliverAlerts, type DeliverOptions, type DeliverResult } from './delivery.js';
export {
  LogSink,
  WebhookSink,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  signWebhook,
  verifyWebhook,
  type AlertLogger,
  type AlertNotice,
  type AlertSink,
  type WebhookSinkOptions,
} from './sinks.js';
export {
  EPCS_REVIEW_CATEGORIES,
  decideEpcsReviewItem,
  epcsCategory,
  getEpcsReview,
  runDailyEpcsReview,
  runDailyEpcsReviews,
  type EpcsDecision,
  type EpcsItemDecision,
  type EpcsReview,
  type EpcsReviewCategory,
  type EpcsReviewItem,
  type EpcsReviewOptions,
} from './epcs-review.js';
export {
  ALERT_WAKE_CHANNEL,
  immediateAlerter,
  wakeAlertDelivery,
  type ImmediateAlert,
  type ImmediateAlerter,
} from './immediate-alert.js';
export { listenForRaisedAlerts, type AlertWakeSource } from './alert-wake.js';
export { MonitoringService, type MonitoringServiceOptions } from './monitoring.service.js';
