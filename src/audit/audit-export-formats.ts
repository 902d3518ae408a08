import type { AuditRecord } from './audit-record.js';

/**
 * Audit records for other systems: FHIR R4 AuditEvent (JSON) for health-information exchange,
 * and RFC 5424 syslog lines for a SIEM. Records carry identifiers and codes only, never PHI, so
 * neither format does either.
 */

const DICOM = 'http://dicom.nema.org/resources/ontology/DCM';
const AUDIT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const SCRIP_ACTIONS = 'urn:scrip:audit:action';
const SCRIP_AGENT = 'urn:scrip:user';

/** FHIR R4 AuditEvent.action: C(reate), R(ead), U(pdate), D(elete), E(xecute). */
function fhirAction(action: string): 'C' | 'R' | 'U' | 'D' | 'E' {
  const verb = action.split('.').pop() ?? '';
  if (['create', 'created', 'draft', 'enrol', 'invite'].includes(verb)) return 'C';
  if (['read', 'search', 'list', 'view', 'export', 'download'].includes(verb)) return 'R';
  if (['update', 'change', 'changed', 'ready', 'sign', 'signed', 'rotate', 'rewrap'].includes(verb))
    return 'U';
  if (['delete', 'destroy', 'shred', 'revoke', 'cancel', 'cancelled'].includes(verb)) return 'D';
  return 'E';
}

/** FHIR R4 AuditEvent.outcome: 0 success, 4 minor failure (refused), 8 serious failure. */
function fhirOutcome(outcome: AuditRecord['outcome']): '0' | '4' | '8' {
  return outcome === 'success' ? '0' : outcome === 'denied' ? '4' : '8';
}

function typeFor(action: string): { system: string; code: string; display: string } {
  if (action.startsWith('auth.'))
    return { system: DICOM, code: '110114', display: 'User Authentication' };
  if (action.startsWith('patient.'))
    return { system: DICOM, code: '110110', display: 'Patient Record' };
  if (action.startsWith('audit.'))
    return { system: DICOM, code: '110101', display: 'Audit Log Used' };
  if (action.startsWith('key.') || action.startsWith('tenant.'))
    return { system: DICOM, code: '110113', display: 'Security Alert' };
  return { system: AUDIT_TYPE, code: 'rest', display: 'RESTful Operation' };
}

const RESOURCE_TYPES: Readonly<Record<string, string>> = {
  patient: 'Patient',
  prescription: 'MedicationRequest',
  user: 'Practitioner',
};

/** One audit record as a FHIR R4 AuditEvent resource (https://hl7.org/fhir/R4/auditevent.html). */
export function toFhirAuditEvent(record: AuditRecord, observer: string): Record<string, unknown> {
  const agent: Record<string, unknown> = {
    requestor: record.actor.kind === 'user',
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
          code: record.actor.kind === 'user' ? 'humanuser' : 'dataprocessor',
        },
      ],
    },
    who: { identifier: { system: SCRIP_AGENT, value: record.actor.userId ?? record.actor.kind } },
  };
  if (record.actor.role !== null)
    agent.role = [{ coding: [{ system: 'urn:scrip:role', code: record.actor.role }] }];
  if (record.source.ip !== null) agent.network = { address: record.source.ip, type: '2' };
  const event: Record<string, unknown> = {
    resourceType: 'AuditEvent',
    id: String(record.seq),
    type: {
      system: typeFor(record.action).system,
      code: typeFor(record.action).code,
      display: typeFor(record.action).display,
    },
    subtype: [{ system: SCRIP_ACTIONS, code: record.action }],
    action: fhirAction(record.action),
    recorded: record.time,
    outcome: fhirOutcome(record.outcome),
    agent: [agent],
    source: {
      observer: { display: observer },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' }],
    },
  };
  if (record.reason !== null) event.purposeOfEvent = [{ text: record.reason }];
  const entities = record.subjects.map((s) => ({
    what: { reference: `${RESOURCE_TYPES[s.type] ?? 'Basic'}/${s.id}` },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' },
  }));
  if (record.requestId !== null)
    entities.push({
      what: { reference: `urn:scrip:request:${record.requestId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '4' },
    });
  if (entities.length > 0) event.entity = entities;
  return event;
}

/** RFC 5424 §6.3.3 PARAM-VALUE escaping: `"`, `\` and `]` are backslash-escaped. */
function sdEscape(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** Printable US-ASCII without spaces (RFC 5424 §6.2 header fields), or NILVALUE. */
function headerField(value: string | null, max: number): string {
  if (value === null || value === '') return '-';
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_');
  return cleaned.slice(0, max);
}

/**
 * One audit record as an RFC 5424 syslog line: facility 10 (security/authorization, authpriv),
 * severity 5 (notice) for success, 4 (warning) otherwise; the record as structured data under
 * the `scrip@32473` SD-ID (enterprise number 32473 is reserved for documentation, RFC 5612).
 */
export function toSyslogLine(record: AuditRecord, hostname: string, appName = 'scrip'): string {
  const severity = record.outcome === 'success' ? 5 : 4;
  const pri = 10 * 8 + severity;
  const params: [string, string | null][] = [
    ['seq', String(record.seq)],
    ['tenant', record.tenantId],
    ['action', record.action],
    ['outcome', record.outcome],
    ['actor', record.actor.userId],
    ['actorKind', record.actor.kind],
    ['role', record.actor.role],
    ['ip', record.source.ip],
    ['requestId', record.requestId],
    [
      'subjects',
      record.subjects.length === 0
        ? null
        : record.subjects.map((s) => `${s.type}/${s.id}`).join(','),
    ],
  ];
  const sd = params
    .filter((p): p is [string, string] => p[1] !== null)
    .map(([k, v]) => `${k}="${sdEscape(v)}"`)
    .join(' ');
  return `<${String(pri)}>1 ${record.time} ${headerField(hostname, 255)} ${headerField(appName, 48)} - ${headerField(record.action, 32)} [scrip@32473 ${sd}] ${record.action} ${record.outcome}`;
}
