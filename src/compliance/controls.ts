/**
 * The control catalog: every HIPAA Security Rule standard and implementation specification of
 * 45 CFR 164.308, 164.310, 164.312 and 164.316, and each 21 CFR 1311.120(b) requirement Scrip
 * serves today, mapped to Scrip controls. Each control has exactly one live check
 * (src/compliance/control-checks.ts) that queries the running platform and answers pass or fail
 * with details and the time it ran.
 *
 * DEA requirements on the prescription workflow itself ((b)(6)-(b)(14), (b)(17)-(b)(22),
 * (b)(27): required elements, ready-to-sign, the signing display and protocol, transmission and
 * printing rules, monthly logs) belong to the prescribing domain and join this catalog with it.
 */

export const CONTROL_IDS = [
  'mfa-coverage',
  'audit-verified',
  'audit-immutable',
  'key-age',
  'phi-encrypted',
  'access-review',
  'baa-coverage',
  'vendor-oversight',
  'tls-policy',
  'backup-restore',
  'session-timeouts',
  'unique-user-ids',
  'break-glass-review',
  'tenant-isolation',
  'role-separation',
  'security-officer',
  'termination',
  'login-monitoring',
  'password-policy',
  'activity-review',
  'inventory-complete',
  'endpoint-policy',
  'facility-hosting',
  'records-retained',
  'evidence-available',
  'evaluation',
  'epcs-registrant-linked',
  'epcs-dual-control',
  'epcs-daily-review',
  'epcs-monthly-log',
  'signing-key',
  'program-risk-analysis',
  'program-risk-management',
  'program-sanctions',
  'program-training',
  'program-malware',
  'program-incident-response',
  'program-contingency',
  'program-policies',
] as const;
export type ControlId = (typeof CONTROL_IDS)[number];

export interface Control {
  readonly id: ControlId;
  readonly title: string;
  /** What the live check looks at. */
  readonly check: string;
}

export const CONTROLS: Readonly<Record<ControlId, Control>> = {
  'mfa-coverage': {
    id: 'mfa-coverage',
    title: 'Second factor enrolled for every active member',
    check: 'Every active member of the tenant has a confirmed TOTP or an unrevoked passkey',
  },
  'audit-verified': {
    id: 'audit-verified',
    title: 'Audit log verified in the last 24 hours',
    check: 'The latest recorded run of the audit-log verifier is under 24 hours old and clean',
  },
  'audit-immutable': {
    id: 'audit-immutable',
    title: 'Audit log is append-only',
    check:
      'The triggers refusing UPDATE, DELETE and TRUNCATE on the audit tables are in place and enabled',
  },
  'key-age': {
    id: 'key-age',
    title: 'Data keys within the rotation policy',
    check: "The tenant's active data key is younger than SCRIP_KEY_MAX_AGE_DAYS",
  },
  'phi-encrypted': {
    id: 'phi-encrypted',
    title: 'PHI sealed under usable data keys',
    check:
      'Every table with encrypted PHI has the data-key trigger, and no tenant row names an unusable key',
  },
  'access-review': {
    id: 'access-review',
    title: 'Access review completed this quarter',
    check: 'The access-review module reports a completed review in the current calendar quarter',
  },
  'baa-coverage': {
    id: 'baa-coverage',
    title: 'Every PHI integration covered by an active BAA',
    check:
      'Each enabled integration that sends PHI has a vendor whose signed BAA is in force and flows down to subcontractors',
  },
  'vendor-oversight': {
    id: 'vendor-oversight',
    title: 'Vendor risk followed up',
    check:
      'No vendor remediation item is overdue, and each high-risk PHI vendor has a reviewed questionnaire within a year',
  },
  'tls-policy': {
    id: 'tls-policy',
    title: 'TLS policy in force',
    check:
      'TLS is served (not SCRIP_INSECURE_HTTP), the minimum version is 1.2, only AEAD ciphers, and the operator certificate is valid',
  },
  'backup-restore': {
    id: 'backup-restore',
    title: 'A backup restored and verified within 30 days',
    check:
      'A successful restore (scrip restore) or restore drill (scrip evidence restore-drill) is recorded within 30 days',
  },
  'session-timeouts': {
    id: 'session-timeouts',
    title: 'Automatic logoff',
    check: 'Session idle timeout is at most 30 minutes and absolute lifetime at most 12 hours',
  },
  'unique-user-ids': {
    id: 'unique-user-ids',
    title: 'Unique user identification',
    check:
      'Accounts are unique by email (case-insensitive unique index) and every member is one account',
  },
  'break-glass-review': {
    id: 'break-glass-review',
    title: 'Emergency access reviewed',
    check: 'No break-glass session ended more than 72 hours ago without its review',
  },
  'tenant-isolation': {
    id: 'tenant-isolation',
    title: 'Row-level security on every tenant table',
    check: 'Every table with tenant_id has row-level security enabled and forced',
  },
  'role-separation': {
    id: 'role-separation',
    title: 'Role catalog keeps the required separations',
    check:
      'The role catalog in force passes the separation rules (agents never sign, support sees no PHI, auditors read only)',
  },
  'security-officer': {
    id: 'security-officer',
    title: 'Security responsibility assigned',
    check: 'At least one active member holds the security_admin role',
  },
  termination: {
    id: 'termination',
    title: 'Disabled accounts hold no live sessions',
    check: 'No disabled account has an unrevoked, unexpired session in the tenant',
  },
  'login-monitoring': {
    id: 'login-monitoring',
    title: 'Failed sign-in monitoring',
    check: 'The failed sign-in alert rules (per account and per source address) are enabled',
  },
  'password-policy': {
    id: 'password-policy',
    title: 'Passwords stored as Argon2id',
    check:
      "Every member's password is an Argon2id hash (and a second factor is required: mfa-coverage)",
  },
  'activity-review': {
    id: 'activity-review',
    title: 'Information system activity review running',
    check: 'The audit-stream detector exists and is less than 5000 records behind the log head',
  },
  'inventory-complete': {
    id: 'inventory-complete',
    title: 'Inventory current and classified',
    check:
      "Scrip's components are in the inventory, every asset has an owner and PHI classification, and no PHI flow is unencrypted",
  },
  'endpoint-policy': {
    id: 'endpoint-policy',
    title: 'Clinician endpoints governed',
    check:
      'Clinician endpoints are inventoried and a context policy (networks, devices, hours) is in force',
  },
  'facility-hosting': {
    id: 'facility-hosting',
    title: 'Hosting facilities accounted for',
    check:
      'Each server, database, key provider and storage asset is self-hosted (recorded) or hosted by a vendor with a BAA in force',
  },
  'records-retained': {
    id: 'records-retained',
    title: 'Program records kept six years',
    check:
      'Program and evidence tables refuse deletion (guard triggers enabled) and audit retention is at least six years',
  },
  'evidence-available': {
    id: 'evidence-available',
    title: 'Evidence available',
    check: 'A signed evidence bundle was exported within the last 90 days',
  },
  evaluation: {
    id: 'evaluation',
    title: 'Periodic evaluation',
    check: 'The controls were evaluated (an earlier run of these checks) within the last 31 days',
  },
  'epcs-registrant-linked': {
    id: 'epcs-registrant-linked',
    title: 'EPCS signers linked to a current DEA registration',
    check:
      'Every prescriber holding EPCS permission has an active proofing with an unexpired DEA registration',
  },
  'epcs-dual-control': {
    id: 'epcs-dual-control',
    title: 'EPCS access changes by two people',
    check:
      'Every EPCS permission in force comes from a request approved by a second person with a step-up',
  },
  'epcs-daily-review': {
    id: 'epcs-daily-review',
    title: 'Daily EPCS audit review',
    check: 'With EPCS prescribers in the tenant, a daily EPCS review exists for the last two days',
  },
  'epcs-monthly-log': {
    id: 'epcs-monthly-log',
    title: 'Monthly controlled-substance log per prescriber',
    check:
      "From the 7th of a month, every prescriber who signed a controlled-substance prescription in the previous month has that month's log",
  },
  'signing-key': {
    id: 'signing-key',
    title: 'Platform signing key in a validated module',
    check:
      'An active platform signing key exists in the key provider, which is an HSM or a working FIPS module',
  },
  'program-risk-analysis': {
    id: 'program-risk-analysis',
    title: 'Risk analysis current',
    check: 'The risk register reports a current risk analysis',
  },
  'program-risk-management': {
    id: 'program-risk-management',
    title: 'Risks managed',
    check: 'The risk register reports no overdue treatment',
  },
  'program-sanctions': {
    id: 'program-sanctions',
    title: 'Sanction policy in force',
    check: 'The policy module reports an approved, current sanction policy',
  },
  'program-training': {
    id: 'program-training',
    title: 'Security awareness training current',
    check: 'The training records report every member trained and reminded within the cycle',
  },
  'program-malware': {
    id: 'program-malware',
    title: 'Protection from malicious software',
    check: 'The policy module reports a current malicious-software protection procedure',
  },
  'program-incident-response': {
    id: 'program-incident-response',
    title: 'Incident procedures',
    check: 'The incident module reports current procedures and no incident past its deadlines',
  },
  'program-contingency': {
    id: 'program-contingency',
    title: 'Contingency plan',
    check:
      'The policy module reports a current contingency plan (disaster recovery, emergency mode)',
  },
  'program-policies': {
    id: 'program-policies',
    title: 'Policies and procedures current',
    check:
      'The policy module reports every policy approved, acknowledged and within its review cycle',
  },
};

export type Framework = 'hipaa' | 'dea';
export type RequirementKind = 'standard' | 'implementation_specification' | 'requirement';

export interface Requirement {
  /** Citation without the title, e.g. `164.312(a)(2)(iv)` or `1311.120(b)(4)`. */
  readonly id: string;
  readonly framework: Framework;
  readonly kind: RequirementKind;
  /** For implementation specifications: required (R) or addressable (A). */
  readonly designation?: 'required' | 'addressable';
  /** The standard a specification belongs to. */
  readonly standard?: string;
  readonly title: string;
  readonly controls: readonly ControlId[];
}

const std = (id: string, title: string, controls: readonly ControlId[]): Requirement => ({
  id,
  framework: 'hipaa',
  kind: 'standard',
  title,
  controls,
});

const spec = (
  standard: string,
  id: string,
  designation: 'required' | 'addressable',
  title: string,
  controls: readonly ControlId[],
): Requirement => ({
  id,
  framework: 'hipaa',
  kind: 'implementation_specification',
  designation,
  standard,
  title,
  controls,
});

const dea = (id: string, title: string, controls: readonly ControlId[]): Requirement => ({
  id,
  framework: 'dea',
  kind: 'requirement',
  title,
  controls,
});

const SMP = '164.308(a)(1)(i)';
const WFS = '164.308(a)(3)(i)';
const IAM = '164.308(a)(4)(i)';
const SAT = '164.308(a)(5)(i)';
const SIP = '164.308(a)(6)(i)';
const CP = '164.308(a)(7)(i)';
const BA = '164.308(b)(1)';
const FAC = '164.310(a)(1)';
const DMC = '164.310(d)(1)';
const AC = '164.312(a)(1)';
const INT = '164.312(c)(1)';
const TS = '164.312(e)(1)';
const DOC = '164.316(b)(1)';

/** The requirements, in regulation order. */
export const REQUIREMENTS: readonly Requirement[] = [
  // 45 CFR 164.308 Administrative safeguards
  std(SMP, 'Security management process', [
    'program-risk-analysis',
    'program-risk-management',
    'activity-review',
  ]),
  spec(SMP, '164.308(a)(1)(ii)(A)', 'required', 'Risk analysis', [
    'program-risk-analysis',
    'inventory-complete',
  ]),
  spec(SMP, '164.308(a)(1)(ii)(B)', 'required', 'Risk management', [
    'program-risk-management',
    'vendor-oversight',
  ]),
  spec(SMP, '164.308(a)(1)(ii)(C)', 'required', 'Sanction policy', ['program-sanctions']),
  spec(SMP, '164.308(a)(1)(ii)(D)', 'required', 'Information system activity review', [
    'activity-review',
    'audit-verified',
    'epcs-daily-review',
  ]),
  std('164.308(a)(2)', 'Assigned security responsibility', ['security-officer']),
  std(WFS, 'Workforce security', ['role-separation', 'termination']),
  spec(WFS, '164.308(a)(3)(ii)(A)', 'addressable', 'Authorization and/or supervision', [
    'role-separation',
  ]),
  spec(WFS, '164.308(a)(3)(ii)(B)', 'addressable', 'Workforce clearance procedure', [
    'access-review',
  ]),
  spec(WFS, '164.308(a)(3)(ii)(C)', 'addressable', 'Termination procedures', ['termination']),
  std(IAM, 'Information access management', ['tenant-isolation', 'role-separation']),
  spec(IAM, '164.308(a)(4)(ii)(A)', 'required', 'Isolating health care clearinghouse functions', [
    'tenant-isolation',
  ]),
  spec(IAM, '164.308(a)(4)(ii)(B)', 'addressable', 'Access authorization', [
    'role-separation',
    'access-review',
  ]),
  spec(IAM, '164.308(a)(4)(ii)(C)', 'addressable', 'Access establishment and modification', [
    'access-review',
  ]),
  std(SAT, 'Security awareness and training', ['program-training']),
  spec(SAT, '164.308(a)(5)(ii)(A)', 'addressable', 'Security reminders', ['program-training']),
  spec(SAT, '164.308(a)(5)(ii)(B)', 'addressable', 'Protection from malicious software', [
    'program-malware',
  ]),
  spec(SAT, '164.308(a)(5)(ii)(C)', 'addressable', 'Log-in monitoring', ['login-monitoring']),
  spec(SAT, '164.308(a)(5)(ii)(D)', 'addressable', 'Password management', [
    'password-policy',
    'mfa-coverage',
  ]),
  std(SIP, 'Security incident procedures', ['program-incident-response', 'activity-review']),
  spec(SIP, '164.308(a)(6)(ii)', 'required', 'Response and reporting', [
    'program-incident-response',
    'activity-review',
  ]),
  std(CP, 'Contingency plan', ['program-contingency', 'backup-restore']),
  spec(CP, '164.308(a)(7)(ii)(A)', 'required', 'Data backup plan', ['backup-restore']),
  spec(CP, '164.308(a)(7)(ii)(B)', 'required', 'Disaster recovery plan', [
    'backup-restore',
    'program-contingency',
  ]),
  spec(CP, '164.308(a)(7)(ii)(C)', 'required', 'Emergency mode operation plan', [
    'break-glass-review',
    'program-contingency',
  ]),
  spec(CP, '164.308(a)(7)(ii)(D)', 'addressable', 'Testing and revision procedures', [
    'backup-restore',
  ]),
  spec(CP, '164.308(a)(7)(ii)(E)', 'addressable', 'Applications and data criticality analysis', [
    'inventory-complete',
  ]),
  std('164.308(a)(8)', 'Evaluation', ['evaluation']),
  std(BA, 'Business associate contracts and other arrangements', [
    'baa-coverage',
    'vendor-oversight',
  ]),
  std('164.308(b)(2)', 'Business associates and their subcontractors', ['baa-coverage']),
  spec(BA, '164.308(b)(3)', 'required', 'Written contract or other arrangement', ['baa-coverage']),
  // 45 CFR 164.310 Physical safeguards
  std(FAC, 'Facility access controls', ['facility-hosting']),
  spec(FAC, '164.310(a)(2)(i)', 'addressable', 'Contingency operations', [
    'facility-hosting',
    'backup-restore',
  ]),
  spec(FAC, '164.310(a)(2)(ii)', 'addressable', 'Facility security plan', ['facility-hosting']),
  spec(FAC, '164.310(a)(2)(iii)', 'addressable', 'Access control and validation procedures', [
    'facility-hosting',
  ]),
  spec(FAC, '164.310(a)(2)(iv)', 'addressable', 'Maintenance records', ['facility-hosting']),
  std('164.310(b)', 'Workstation use', ['endpoint-policy']),
  std('164.310(c)', 'Workstation security', ['endpoint-policy', 'session-timeouts']),
  std(DMC, 'Device and media controls', ['inventory-complete', 'phi-encrypted']),
  spec(DMC, '164.310(d)(2)(i)', 'required', 'Disposal', ['phi-encrypted']),
  spec(DMC, '164.310(d)(2)(ii)', 'required', 'Media re-use', ['phi-encrypted']),
  spec(DMC, '164.310(d)(2)(iii)', 'addressable', 'Accountability', ['inventory-complete']),
  spec(DMC, '164.310(d)(2)(iv)', 'addressable', 'Data backup and storage', ['backup-restore']),
  // 45 CFR 164.312 Technical safeguards
  std(AC, 'Access control', ['tenant-isolation', 'role-separation', 'mfa-coverage']),
  spec(AC, '164.312(a)(2)(i)', 'required', 'Unique user identification', ['unique-user-ids']),
  spec(AC, '164.312(a)(2)(ii)', 'required', 'Emergency access procedure', ['break-glass-review']),
  spec(AC, '164.312(a)(2)(iii)', 'addressable', 'Automatic logoff', ['session-timeouts']),
  spec(AC, '164.312(a)(2)(iv)', 'addressable', 'Encryption and decryption', [
    'phi-encrypted',
    'key-age',
  ]),
  std('164.312(b)', 'Audit controls', ['audit-verified', 'audit-immutable']),
  std(INT, 'Integrity', ['audit-verified', 'phi-encrypted']),
  spec(
    INT,
    '164.312(c)(2)',
    'addressable',
    'Mechanism to authenticate electronic protected health information',
    ['phi-encrypted', 'signing-key'],
  ),
  std('164.312(d)', 'Person or entity authentication', ['mfa-coverage']),
  std(TS, 'Transmission security', ['tls-policy']),
  spec(TS, '164.312(e)(2)(i)', 'addressable', 'Integrity controls', ['tls-policy']),
  spec(TS, '164.312(e)(2)(ii)', 'addressable', 'Encryption', ['tls-policy']),
  // 45 CFR 164.316 Policies and procedures and documentation requirements
  std('164.316(a)', 'Policies and procedures', ['program-policies']),
  std(DOC, 'Documentation', ['records-retained', 'inventory-complete']),
  spec(DOC, '164.316(b)(2)(i)', 'required', 'Time limit (six years)', ['records-retained']),
  spec(DOC, '164.316(b)(2)(ii)', 'required', 'Availability', ['evidence-available']),
  spec(DOC, '164.316(b)(2)(iii)', 'required', 'Updates', ['evaluation', 'program-policies']),
  // 21 CFR 1311.120(b): electronic prescription application requirements Scrip serves today
  dea('1311.120(b)(1)', 'Each registrant linked by name to at least one DEA registration number', [
    'epcs-registrant-linked',
  ]),
  dea(
    '1311.120(b)(2)',
    'Logical access controls limit who may indicate readiness, sign, and set access controls',
    ['role-separation'],
  ),
  dea(
    '1311.120(b)(3)',
    'Access controls set by user name or role; signing roles only for credentialed practitioners',
    ['role-separation', 'epcs-registrant-linked'],
  ),
  dea(
    '1311.120(b)(4)',
    'Setting and changing EPCS access controls involves two individuals (1311.125)',
    ['epcs-dual-control'],
  ),
  dea(
    '1311.120(b)(5)',
    'Two-factor authentication (1311.115) for signing and for approving access controls',
    ['mfa-coverage', 'epcs-dual-control'],
  ),
  dea(
    '1311.120(b)(15)',
    'The application digitally signs the prescription and archives the signed record',
    ['signing-key'],
  ),
  dea(
    '1311.120(b)(16)',
    'Signing in a FIPS 140 validated module with FIPS-approved algorithms and time',
    ['signing-key'],
  ),
  dea('1311.120(b)(23)', 'An audit trail of prescription and access-control events', [
    'audit-immutable',
    'audit-verified',
  ]),
  dea(
    '1311.120(b)(24)',
    'Each audit record holds date and time, event type, who acted, and outcome',
    ['audit-verified'],
  ),
  dea('1311.120(b)(25)', 'Internal audits and reports of the events of 1311.150', [
    'epcs-daily-review',
  ]),
  dea('1311.120(b)(26)', 'Stored audit records protected from deletion and modification', [
    'audit-immutable',
  ]),
  dea(
    '1311.120(b)(27)',
    "A monthly log of each practitioner's controlled-substance prescriptions by the 7th; on-demand reports",
    ['epcs-monthly-log'],
  ),
];

/** The requirements that map to `control`. */
export function requirementsOf(control: ControlId): Requirement[] {
  return REQUIREMENTS.filter((r) => r.controls.includes(control));
}
