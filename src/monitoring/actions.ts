/**
 * Audit action names the monitoring rules watch, and the ones monitoring itself emits. Domains
 * built later (prescribing, network, access, EPCS) must emit exactly these names, so the rules
 * and the daily EPCS review (21 CFR 1311.150) see their events; import them from
 * `src/monitoring/index.ts` rather than retyping the strings.
 */

/** Patient record read (minimum-necessary access, 45 CFR 164.312(b)); subject `patient`. */
export const PATIENT_READ = 'patient.read';
/** Patient search; subjects are the `patient` ids returned. */
export const PATIENT_SEARCH = 'patient.search';
/** Patient list (the user's own patients, summaries); subjects are the `patient` ids listed. */
export const PATIENT_LIST = 'patient.list';
/** Patient created (or refused as a possible duplicate: outcome failure). */
export const PATIENT_CREATE = 'patient.create';
/** Patient demographics or clinical data changed; `details.part` says which. */
export const PATIENT_UPDATE = 'patient.update';
/** Care-team membership added / ended (the relationship that opens a patient's record). */
export const CARETEAM_ADD = 'careteam.add';
export const CARETEAM_REMOVE = 'careteam.remove';
/** Prefix of every PHI access action watched by the off-hours rule. */
export const PATIENT_ACTION_PREFIX = 'patient.';

/** A failed sign-in (emitted by identity): actor userId when known, else `details.accountKey`. */
export const AUTH_LOGIN_FAILURE = 'auth.login.failure';
/** An account, source or user was locked out after repeated failures (platform record). */
export const AUTH_LOCKOUT = 'auth.lockout';
/**
 * A single-use recovery code signed someone in (emitted by identity in the user's home tenant,
 * actor the user, `details.remaining` the codes left).
 */
export const AUTH_RECOVERY_CODE_USED = 'auth.recovery_code.used';

/** The outbound NCPDP SCRIPT transmission of a prescription failed. */
export const RX_TRANSMIT_FAILED = 'rx.transmit.failed';
/** The prescriber printed the copy of a prescription whose transmission failed (1311.170). */
export const RX_TRANSMIT_PRINTED = 'rx.transmit.printed';
/** The network layer gave up delivering a message to the switch or pharmacy. */
export const NETWORK_DELIVERY_FAILED = 'network.delivery.failed';
/** An inbound SCRIPT message was processed (answer code in details; idempotent per MessageID). */
export const NETWORK_INBOUND_RECEIVED = 'network.inbound.received';
/** An inbound SCRIPT message was refused before any tenant saw it (malformed, unknown recipient). */
export const NETWORK_INBOUND_REFUSED = 'network.inbound.refused';
/** A TLS peer was refused by the network listener (no, unknown or unpinned client certificate). */
export const NETWORK_PEER_REFUSED = 'network.peer.refused';
/** A network message was accepted by the switch or the recipient (Status 010 or 000). */
export const NETWORK_DELIVERY_SENT = 'network.delivery.sent';
/** A message is held in the outbox: the BAA gate refused its destination (audited once per message). */
export const NETWORK_SEND_HELD = 'network.send.held';
/**
 * The peer this installation sends to presented a certificate whose key is not pinned (issue 8
 * item 4): the connection was closed before any message byte was sent. One record per attempt.
 */
export const NETWORK_PEER_PIN_MISMATCH = 'network.peer.pin_mismatch';
/** A prescriber answered a pharmacy's renewal or change request. */
export const NETWORK_REQUEST_DECIDED = 'network.request.decided';

/** Prefix of break-glass (emergency access) events, e.g. `access.breakglass.open`. */
export const BREAKGLASS_PREFIX = 'access.breakglass.';
export const BREAKGLASS_OPEN = 'access.breakglass.open';
export const BREAKGLASS_CLOSE = 'access.breakglass.close';

/** A break-glass session was reviewed after the fact (outside the prefix: not itself an alert). */
export const BREAKGLASS_REVIEW = 'access.breakglass_review.close';

/** Just-in-time access grants (45 CFR 164.308(a)(4)(ii)(C)); subjects `access_grant` and `patient`. */
export const ACCESS_GRANT_REQUESTED = 'access.grant.requested';
export const ACCESS_GRANT_APPROVED = 'access.grant.approved';
export const ACCESS_GRANT_DENIED = 'access.grant.denied';
export const ACCESS_GRANT_REVOKED = 'access.grant.revoked';
export const ACCESS_GRANT_WITHDRAWN = 'access.grant.withdrawn';
/** The tenant's access-operation settings (grant length, break-glass time box and writes). */
export const ACCESS_SETTINGS_CHANGE = 'access.settings.change';

/** Access reviews (recertification, 45 CFR 164.308(a)(3)(ii)(B), 164.308(a)(4)(ii)(C)). */
export const ACCESS_REVIEW_CREATED = 'access.review.created';
export const ACCESS_REVIEW_OPENED = 'access.review.opened';
export const ACCESS_REVIEW_DECIDED = 'access.review.decided';
export const ACCESS_REVIEW_REVOKED = 'access.review.revoked';
export const ACCESS_REVIEW_CLOSED = 'access.review.closed';
/** Unreviewed items past the due date; the `access_review_overdue` rule alerts on it. */
export const ACCESS_REVIEW_ESCALATED = 'access.review.escalated';
/** An account unused for N days was disabled (45 CFR 164.308(a)(3)(ii)(C)); subject `user`. */
export const USER_DISABLED_STALE = 'user.disabled.stale';

/** Signing a controlled-substance prescription (21 CFR 1311.120(b)); outcome failure = failed attempt. */
export const RX_SIGN_CONTROLLED = 'rx.sign.controlled';
/**
 * The prescription lifecycle (emitted by prescribing, subjects `prescription` and `patient`):
 * `prescription.created|changed|ready|signed|queued|transmitted|acknowledged|cancelled|failed|
 * dispensed`, a refused edit of a signed prescription, and prescription reads.
 */
export const PRESCRIPTION_ACTION_PREFIX = 'prescription.';
export const PRESCRIPTION_EDIT_REFUSED = 'prescription.edit.refused';

/** Prefix of EPCS logical access control changes (21 CFR 1311.125, 1311.150(b)). */
export const EPCS_PERMISSION_PREFIX = 'epcs.permission.';
export const EPCS_PERMISSION_GRANT = 'epcs.permission.granted';
export const EPCS_PERMISSION_REVOKE = 'epcs.permission.revoked';
export const EPCS_PERMISSION_REQUEST = 'epcs.permission.requested';
/** Prefix of identity-proofing changes (21 CFR 1311.105), e.g. `identity.proofing.complete`. */
export const IDENTITY_PROOFING_PREFIX = 'identity.proofing.';

/** A request refused by the tenant's context policy (network, device, hours): 21 CFR 1311.150(a)(1). */
export const ACCESS_CONTEXT_DENY = 'access.context.deny';

/** The audit verifier found a problem (21 CFR 1311.150(c), 45 CFR 164.312(c)(1)). */
export const AUDIT_VERIFY_FAILED = 'audit.verify.failed';
/**
 * The scheduled witness check found the database or the export disagreeing with the checkpoints a
 * second location holds (deleted, truncated, restored or forked log; RFC 9162 §8.1.2 model).
 */
export const AUDIT_WITNESS_FAILED = 'audit.witness.failed';
/** A segment export run failed (write-once conflict, unreachable target); see segment-exporter. */
export { AUDIT_EXPORT_FAILED } from '../audit/index.js';

/** Emitted by monitoring: an alert was acknowledged / closed by a person. */
export const ALERT_ACKNOWLEDGE = 'monitoring.alert.acknowledge';
export const ALERT_CLOSE = 'monitoring.alert.close';
/** Emitted by monitoring: a tenant's rule configuration changed. */
export const RULE_UPDATE = 'monitoring.rule.update';
/** Emitted by monitoring: the daily EPCS report was produced / an item was decided. */
export const EPCS_REVIEW_CREATE = 'epcs.review.create';
export const EPCS_REVIEW_DECIDE = 'epcs.review.decide';

/**
 * Change control of safety-relevant reference data (drug catalog, formulary, pharmacy routing):
 * subject `change_proposal`. A refused self-approval is `approve` with outcome `denied`.
 */
export const CATALOG_ACTION_PREFIX = 'catalog.';
export const CATALOG_CHANGE_PROPOSE = 'catalog.change.propose';
export const CATALOG_CHANGE_APPROVE = 'catalog.change.approve';
export const CATALOG_CHANGE_REJECT = 'catalog.change.reject';
export const CATALOG_CHANGE_APPLY = 'catalog.change.apply';

/**
 * The compliance program (45 CFR 164.308(a)(1), (a)(5), (a)(6), 164.316, 164.400-414): every
 * change to a program record is one of these, audited in the transaction of the change. Subjects
 * name the record (`risk`, `incident`, `policy`, ...); details carry codes and counts, never PHI.
 */
export const COMPLIANCE_PREFIX = 'compliance.';
export const COMPLIANCE_RISK_CREATE = 'compliance.risk.create';
export const COMPLIANCE_RISK_REVISE = 'compliance.risk.revise';
export const COMPLIANCE_REASSESSMENT_OPEN = 'compliance.reassessment.open';
export const COMPLIANCE_REASSESSMENT_COMPLETE = 'compliance.reassessment.complete';
export const COMPLIANCE_INCIDENT_CREATE = 'compliance.incident.create';
export const COMPLIANCE_INCIDENT_UPDATE = 'compliance.incident.update';
export const COMPLIANCE_INCIDENT_NOTE = 'compliance.incident.note';
export const COMPLIANCE_INCIDENT_CHECKLIST = 'compliance.incident.checklist';
/** A containment action run from an incident (details.containment: end_sessions, ...). */
export const COMPLIANCE_INCIDENT_CONTAINMENT = 'compliance.incident.containment';
export const COMPLIANCE_INCIDENT_EVIDENCE = 'compliance.incident.evidence';
export const COMPLIANCE_PLAYBOOK_UPDATE = 'compliance.playbook.update';
export const COMPLIANCE_TABLETOP_RECORD = 'compliance.tabletop.record';
export const COMPLIANCE_BREACH_ASSESS = 'compliance.breach.assess';
export const COMPLIANCE_BREACH_NOTICE = 'compliance.breach.notice';
export const COMPLIANCE_POLICY_VERSION = 'compliance.policy.version';
export const COMPLIANCE_POLICY_APPROVE = 'compliance.policy.approve';
export const COMPLIANCE_POLICY_REVIEW = 'compliance.policy.review';
export const COMPLIANCE_POLICY_ACKNOWLEDGE = 'compliance.policy.acknowledge';
export const COMPLIANCE_TRAINING_RECORD = 'compliance.training.record';
/**
 * Emitted once per condition by the periodic compliance checks: an item is overdue
 * (details.kind: risk_due, reassessment_due, policy_review_due, acknowledgement_missing,
 * training_expired, remediation_due). The `compliance_overdue` rule turns it into an alert.
 */
export const COMPLIANCE_OVERDUE = 'compliance.overdue';
/**
 * Emitted once per breach notice deadline and countdown step (details.step: 30, 14, 7, 1 days
 * left, or `overdue`); the `breach_deadline` rule turns it into an alert (45 CFR 164.404-.410).
 */
export const COMPLIANCE_BREACH_DEADLINE = 'compliance.breach.deadline';

/** Does `action` equal `pattern`, or start with it when `pattern` ends in a dot? */
export function actionMatches(action: string, pattern: string): boolean {
  return pattern.endsWith('.') ? action.startsWith(pattern) : action === pattern;
}

/** Pharmacy directory changes (issue 8): one record per create/update, one per file import. */
export const PHARMACY_DIRECTORY_CREATE = 'pharmacy.directory.create';
export const PHARMACY_DIRECTORY_UPDATE = 'pharmacy.directory.update';
export const PHARMACY_DIRECTORY_IMPORT = 'pharmacy.directory.import';

/**
 * Pharmacy side (issue 8 item 6; 21 CFR 1311.205, 1311.210). Receipt and refusal of a SCRIPT
 * message (system actor; a refusal names a reason token, never message content), the
 * pharmacist's actions (subject `pharmacy_rx`), and the tenant's pharmacy set-up. Reads of a
 * received prescription are PHI accesses: they carry the `patient.` prefix so the off-hours rule
 * watches them like any other patient access.
 */
export const PHARMACY_RX_RECEIVED = 'pharmacy.rx.received';
export const PHARMACY_RX_REJECTED = 'pharmacy.rx.rejected';
export const PHARMACY_RX_CANCEL_REQUESTED = 'pharmacy.rx.cancel_requested';
export const PHARMACY_RX_READ = 'patient.pharmacy_rx.read';
export const PHARMACY_RX_LIST = 'patient.pharmacy_rx.list';
export const PHARMACY_RX_ACCEPTED = 'pharmacy.rx.accepted';
export const PHARMACY_RX_FILLED = 'pharmacy.rx.filled';
export const PHARMACY_RX_CANCEL_ANSWERED = 'pharmacy.rx.cancel_answered';
export const PHARMACY_RX_RENEWAL_REQUESTED = 'pharmacy.rx.renewal_requested';
export const PHARMACY_RX_CHANGE_REQUESTED = 'pharmacy.rx.change_requested';
export const PHARMACY_LOCATION_CREATE = 'pharmacy.location.create';
export const PHARMACY_MEMBER_ADD = 'pharmacy.member.add';
export const PHARMACY_MEMBER_REMOVE = 'pharmacy.member.remove';
export const PHARMACY_SENDER_TRUST = 'pharmacy.sender.trust';

/**
 * The network switch's own log (issue 8 item 5, src/switch): every connection refused, message
 * accepted, refused or seen again, forward attempt that failed, final answer from the recipient,
 * relay of that answer, and participant change. Details carry MessageIDs, addresses and codes,
 * never message content.
 */
export const SWITCH_CONNECTION_REFUSED = 'switch.connection.refused';
export const SWITCH_MESSAGE_ACCEPTED = 'switch.message.accepted';
export const SWITCH_MESSAGE_REFUSED = 'switch.message.refused';
export const SWITCH_MESSAGE_DUPLICATE = 'switch.message.duplicate';
export const SWITCH_FORWARD_FAILED = 'switch.forward.failed';
export const SWITCH_MESSAGE_DELIVERED = 'switch.message.delivered';
export const SWITCH_MESSAGE_REJECTED = 'switch.message.rejected';
export const SWITCH_ANSWER_RELAYED = 'switch.answer.relayed';
export const SWITCH_ANSWER_RELAY_FAILED = 'switch.answer.relay_failed';
export const SWITCH_PARTICIPANT_SAVE = 'switch.participant.save';
export const SWITCH_PARTICIPANT_REMOVE = 'switch.participant.remove';
