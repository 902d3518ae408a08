/**
 * Incident playbooks (45 CFR 164.308(a)(6)(ii) response and reporting; NIST SP 800-61r2 §3):
 * a checklist per incident category. Scrip ships defaults (version 0, in code); a tenant edits
 * them by recording a new version, never by changing an old one. An incident copies the
 * checklist in force when it is opened, so a later playbook edit never rewrites its history.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import {
  auditProgram,
  checkOneOf,
  checkText,
  lockRecord,
  type ProgramActor,
} from './program-common.js';

export const INCIDENT_CATEGORIES = [
  'credential_theft',
  'misdirected_prescription',
  'compromised_endpoint',
  'vendor_breach',
  'lost_device',
  'other',
] as const;
export type IncidentCategory = (typeof INCIDENT_CATEGORIES)[number];

export const PLAYBOOK_PHASES = [
  'triage',
  'contain',
  'investigate',
  'eradicate',
  'notify',
  'recover',
  'review',
] as const;
export type PlaybookPhase = (typeof PLAYBOOK_PHASES)[number];

export interface PlaybookItem {
  readonly key: string;
  readonly phase: PlaybookPhase;
  readonly text: string;
}

export interface Playbook {
  readonly category: IncidentCategory;
  /** 0 for the shipped default. */
  readonly version: number;
  readonly items: readonly PlaybookItem[];
  readonly reason: string | null;
  readonly changedBy: string | null;
  readonly changedAt: string | null;
}

const i = (key: string, phase: PlaybookPhase, text: string): PlaybookItem => ({ key, phase, text });

const COMMON_END: readonly PlaybookItem[] = [
  i('preserve_audit', 'investigate', 'Preserve the audit range of the incident with a signed checkpoint and inclusion proofs.'),
  i('breach_assessment', 'notify', 'Record the four-factor breach risk assessment (45 CFR 164.402(2)) and its decision.'),
  i('notices', 'notify', 'If it is a breach, send the notices the breach clock lists before their deadlines.'),
  i('lessons_learned', 'review', 'Hold the post-incident review and record the lessons learned.'),
]; // prettier-ignore

/** The shipped playbooks (version 0). */
export const DEFAULT_PLAYBOOKS: Readonly<Record<IncidentCategory, readonly PlaybookItem[]>> = {
  credential_theft: [
    i('scope_accounts', 'triage', 'Identify the accounts whose credentials were exposed and how.'),
    i('end_sessions', 'contain', "End the accounts' sessions and tokens (containment action)."),
    i('disable_account', 'contain', 'Disable the account while misuse is possible (containment action).'),
    i('reset_credentials', 'eradicate', 'Reset the password and re-enrol MFA; revoke unknown passkeys and recovery codes.'),
    i('review_access', 'investigate', 'Search the audit log for PHI reached with the account during the exposure window.'),
    ...COMMON_END,
  ],
  misdirected_prescription: [
    i('identify_recipient', 'triage', 'Identify the prescription and the pharmacy that received it in error.'),
    i('recall', 'contain', 'Ask the pharmacy not to dispense, to cancel, and to destroy or return the prescription; obtain written confirmation.'),
    i('resend', 'recover', 'Send the prescription to the intended pharmacy.'),
    i('root_cause', 'investigate', 'Find the cause (directory entry, selection error, routing) and correct it.'),
    ...COMMON_END,
  ],
  compromised_endpoint: [
    i('isolate', 'triage', 'Identify the device and its users; isolate it from the network.'),
    i('end_sessions', 'contain', "End the sessions and tokens of the device's users (containment action)."),
    i('rotate_keys', 'contain', 'Start a key rotation if keys or secrets may have been exposed (containment action).'),
    i('reimage', 'eradicate', 'Reimage or replace the device before it returns to service.'),
    i('review_access', 'investigate', 'Determine what PHI was reachable from the device and what was accessed.'),
    ...COMMON_END,
  ],
  vendor_breach: [
    i('vendor_notice', 'triage', "Obtain the business associate's notice (45 CFR 164.410(c)): affected individuals and what happened."),
    i('suspend_integration', 'contain', "Suspend the vendor's integration (containment action)."),
    i('data_flows', 'investigate', 'List the PHI sent to the vendor through the data-flow map.'),
    i('rotate_credentials', 'recover', 'Rotate credentials and keys shared with the vendor; re-enable only with remediation evidence.'),
    ...COMMON_END,
  ],
  lost_device: [
    i('identify_device', 'triage', 'Identify the device, its owner, and whether its storage was encrypted (secured PHI).'),
    i('end_sessions', 'contain', "End the owner's sessions and tokens and revoke the trusted device (containment action)."),
    i('remote_wipe', 'contain', 'Wipe the device remotely where possible.'),
    i('review_access', 'investigate', 'Determine what PHI was stored on or reachable from the device.'),
    ...COMMON_END,
  ],
  other: [
    i('scope', 'triage', 'Scope and classify the incident; assign the incident roles.'),
    i('contain', 'contain', 'Contain it: run the containment actions that apply.'),
    ...COMMON_END,
  ],
}; // prettier-ignore

function defaultPlaybook(category: IncidentCategory): Playbook {
  return {
    category,
    version: 0,
    items: DEFAULT_PLAYBOOKS[category],
    reason: null,
    changedBy: null,
    changedAt: null,
  };
}

/** Checks a proposed checklist: 1-50 items, unique keys, known phases, text 1-500 characters. */
export function checkPlaybookItems(items: readonly PlaybookItem[]): PlaybookItem[] {
  if (items.length < 1 || items.length > 50) {
    throw new AppError('validation_failed', 'a playbook has 1 to 50 items', { detail: 'items' });
  }
  const seen = new Set<string>();
  return items.map((item) => {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(item.key) || seen.has(item.key)) {
      throw new AppError('validation_failed', 'item keys must be unique snake_case names', {
        detail: 'items.key',
      });
    }
    seen.add(item.key);
    return {
      key: item.key,
      phase: checkOneOf('items.phase', item.phase, PLAYBOOK_PHASES),
      text: checkText('items.text', item.text, 1, 500),
    };
  });
}

interface PlaybookRow {
  category: IncidentCategory;
  version: number;
  items: PlaybookItem[];
  reason: string;
  changed_by: string;
  changed_at: Date;
}

function toPlaybook(r: PlaybookRow): Playbook {
  return {
    category: r.category,
    version: r.version,
    items: r.items,
    reason: r.reason,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
  };
}

/** The playbook in force for `category` in the transaction's tenant. */
export async function currentPlaybook(
  tx: Tx,
  tenantId: TenantId,
  category: IncidentCategory,
): Promise<Playbook> {
  const { rows } = await tx.query<PlaybookRow>(
    `SELECT category, version, items, reason, changed_by, changed_at
       FROM compliance_playbook_versions WHERE tenant_id = $1 AND category = $2
      ORDER BY version DESC LIMIT 1`,
    [tenantId, category],
  );
  return rows[0] === undefined ? defaultPlaybook(category) : toPlaybook(rows[0]);
}

export class PlaybookService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** The playbook in force for every category. */
  async list(tenantId: TenantId): Promise<Playbook[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const out: Playbook[] = [];
      for (const c of INCIDENT_CATEGORIES) out.push(await currentPlaybook(tx, tenantId, c));
      return out;
    });
  }

  /** Every version of one category's playbook, the shipped default first. */
  async history(tenantId: TenantId, category: string): Promise<Playbook[]> {
    const c = checkOneOf('category', category, INCIDENT_CATEGORIES);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<PlaybookRow>(
        `SELECT category, version, items, reason, changed_by, changed_at
           FROM compliance_playbook_versions WHERE tenant_id = $1 AND category = $2
          ORDER BY version`,
        [tenantId, c],
      );
      return [defaultPlaybook(c), ...rows.map(toPlaybook)];
    });
  }

  /** Supersedes the category's playbook with a new version (made from `baseVersion`). */
  async update(
    actor: ProgramActor,
    category: string,
    baseVersion: number,
    items: readonly PlaybookItem[],
    reason: string,
  ): Promise<Playbook> {
    const c = checkOneOf('category', category, INCIDENT_CATEGORIES);
    const clean = checkPlaybookItems(items);
    const why = checkText('reason', reason, 1, 1000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await lockRecord(tx, 'playbook', `${actor.tenantId}:${c}`);
      const current = await currentPlaybook(tx, actor.tenantId, c);
      if (current.version !== baseVersion) {
        throw new AppError(
          'conflict',
          `the playbook changed meanwhile (now version ${String(current.version)})`,
          { detail: 'baseVersion' },
        );
      }
      const { rows } = await tx.query<PlaybookRow>(
        `INSERT INTO compliance_playbook_versions (tenant_id, category, version, items, reason,
           changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING category, version, items, reason, changed_by, changed_at`,
        [
          actor.tenantId,
          c,
          current.version + 1,
          JSON.stringify(clean),
          why,
          actor.userId,
          this.clock.now(),
        ],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'playbook insert returned no row');
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_PLAYBOOK_UPDATE,
        [{ type: 'playbook', id: c }],
        { version: row.version, items: clean.length },
      );
      return toPlaybook(row);
    });
  }
}
