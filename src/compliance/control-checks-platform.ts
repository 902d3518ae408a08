/**
 * Live checks over vendors and BAAs, transport, backups, the inventory, retention and evidence,
 * EPCS, the signing key, and the program areas kept by part A (through its port). See
 * control-checks.ts for the conventions.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TenantId } from '../core/index.js';
import { baaCoverage, today } from './baa.service.js';
import {
  DAY_MS,
  fail,
  inTenant,
  missingTriggers,
  pass,
  someOf,
  type Check,
  type CheckOutcome,
} from './control-checks.js';
import type { ControlDeps, ProgramTopic } from './control-ports.js';
import type { ControlId } from './controls.js';
import { listIntegrationsTx } from './integration-gate.js';
import { InventoryService } from './inventory.service.js';
import { VendorService } from './vendor.service.js';

async function baaCoverageCheck(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const day = today(deps.clock);
  return inTenant(deps, tenantId, async (tx) => {
    const phi = (await listIntegrationsTx(tx)).filter((i) => i.status === 'enabled' && i.sendsPhi);
    const problems: string[] = [];
    for (const i of phi) {
      if (i.vendorId === null) {
        problems.push(`${i.name}: no vendor`);
        continue;
      }
      const cover = await baaCoverage(tx, i.vendorId, day);
      if (cover.standing !== 'in_force') problems.push(`${i.name}: BAA ${cover.standing}`);
      else if (cover.baa?.subcontractorFlowDown !== true) {
        problems.push(`${i.name}: BAA lacks subcontractor flow-down (164.314(a)(2)(i)(B))`);
      }
    }
    if (problems.length > 0) {
      return fail(
        `${String(problems.length)} of ${String(phi.length)} enabled PHI integrations not covered: ${someOf(problems)}`,
      );
    }
    return pass(
      phi.length === 0
        ? 'no enabled integration sends PHI'
        : `all ${String(phi.length)} enabled PHI integrations covered by a BAA in force on ${day}`,
    );
  });
}

async function vendorOversight(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const day = today(deps.clock);
  const yearAgo = new Date(deps.clock.now().getTime() - 365 * DAY_MS).toISOString().slice(0, 10);
  const vendors = new VendorService(deps.db, deps.clock);
  return inTenant(deps, tenantId, async (tx) => {
    const overdue = (await vendors.remediationTx(tx)).filter(
      (r) => (r.status === 'open' || r.status === 'in_progress') && r.dueDate < day,
    );
    const questionnaires = await vendors.questionnairesTx(tx);
    const unreviewed = (await vendors.listTx(tx))
      .filter((v) => v.phiAccess && (v.riskRating === 'high' || v.riskRating === 'critical'))
      .filter(
        (v) =>
          !questionnaires.some(
            (q) =>
              q.vendorId === v.id &&
              q.status === 'reviewed' &&
              (q.receivedOn ?? q.sentOn) >= yearAgo,
          ),
      );
    const problems = [
      ...overdue.map((r) => `remediation "${r.title}" due ${r.dueDate} (owner ${r.owner})`),
      ...unreviewed.map((v) => `${v.name}: no reviewed questionnaire within a year`),
    ];
    return problems.length === 0
      ? pass('no overdue remediation; every high-risk PHI vendor reviewed within a year')
      : fail(someOf(problems));
  });
}

const AEAD = /(GCM|CHACHA20|CCM)/;

async function tlsPolicy(deps: ControlDeps): Promise<CheckOutcome> {
  const s = deps.settings;
  if (s.insecureHttp) {
    return fail(
      'SCRIP_INSECURE_HTTP is set: this server speaks plain HTTP and relies on a proxy for TLS',
    );
  }
  if (s.tlsMinVersion !== 'TLSv1.2' && s.tlsMinVersion !== 'TLSv1.3') {
    return fail(`minimum TLS version is ${s.tlsMinVersion}`);
  }
  const weak = s.tlsCiphers.split(':').filter((c) => c !== '' && !AEAD.test(c));
  if (weak.length > 0) return fail(`non-AEAD cipher suites offered: ${someOf(weak)}`);
  let cert = 'local CA certificate';
  if (s.tlsCertFile !== undefined) {
    try {
      const x = new X509Certificate(readFileSync(s.tlsCertFile));
      const now = deps.clock.now().getTime();
      if (Date.parse(x.validTo) < now || Date.parse(x.validFrom) > now) {
        return fail(
          `the operator certificate is not valid now (valid ${x.validFrom} to ${x.validTo})`,
        );
      }
      cert = `operator certificate valid until ${new Date(x.validTo).toISOString().slice(0, 10)}`;
    } catch {
      return fail('the operator certificate (SCRIP_TLS_CERT_FILE) cannot be read');
    }
  }
  return pass(`TLS ${s.tlsMinVersion.slice(4)} minimum, AEAD cipher suites only, ${cert}`);
}

async function backupRestore(deps: ControlDeps): Promise<CheckOutcome> {
  const since = new Date(deps.clock.now().getTime() - 30 * DAY_MS);
  return deps.db.withoutTenant(async (tx) => {
    const { rows } = await tx.query<{
      verified_at: Date;
      kind: string;
      ok: boolean;
      detail: string | null;
    }>(
      `SELECT verified_at, kind, ok, detail FROM compliance_backup_verifications
        ORDER BY verified_at DESC, db_time DESC LIMIT 20`,
    );
    const good = rows.find((r) => r.ok && r.verified_at >= since);
    if (good !== undefined) {
      return pass(
        `${good.kind === 'restore' ? 'restore' : 'restore drill'} verified at ${good.verified_at.toISOString()}`,
      );
    }
    const last = rows[0];
    return fail(
      last === undefined
        ? 'no backup has been restored or restore-drilled'
        : `no successful restore within 30 days (last: ${last.kind} ${last.ok ? 'succeeded' : 'failed'} at ${last.verified_at.toISOString()})`,
    );
  });
}

const INFRA_KINDS: ReadonlySet<string> = new Set([
  'service',
  'database',
  'key_provider',
  'storage',
]);
const UNENCRYPTED = /\b(none|plain(text)?|unencrypted|cleartext)\b/i;

async function inventoryComplete(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const inventory = new InventoryService(deps.db, deps.clock);
  return inTenant(deps, tenantId, async (tx) => {
    const assets = await inventory.assetsTx(tx);
    const flows = await inventory.flowsTx(tx);
    if (!assets.some((a) => a.source === 'platform')) {
      return fail(
        "Scrip's own components are not in the inventory (run the platform inventory sync)",
      );
    }
    const plain = flows
      .filter((f) => f.phiCategories.length > 0 && UNENCRYPTED.test(f.encryption))
      .map((f) => f.name);
    if (plain.length > 0) return fail(`PHI flows without encryption: ${someOf(plain)}`);
    const unowned = assets
      .filter((a) => /^(unassigned|unknown|tbd)$/i.test(a.owner))
      .map((a) => a.name);
    if (unowned.length > 0) return fail(`assets without an owner: ${someOf(unowned)}`);
    const ephi = assets.filter((a) => a.phiClassification === 'ephi').length;
    return pass(
      `${String(assets.length)} assets (${String(ephi)} holding ePHI) and ${String(flows.length)} data flows, each owned and classified`,
    );
  });
}

async function endpointPolicy(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const inventory = new InventoryService(deps.db, deps.clock);
  return inTenant(deps, tenantId, async (tx) => {
    const endpoints = (await inventory.assetsTx(tx)).filter(
      (a) => a.kind === 'endpoint' || a.kind === 'device',
    );
    const { rows } = await tx.query<{ version: number }>(
      'SELECT max(version) AS version FROM context_policy_versions',
    );
    const policy = rows[0]?.version ?? null;
    if (endpoints.length === 0) return fail('no clinician endpoint or device is inventoried');
    if (policy === null) {
      return fail('no context policy (allowed networks, device posture, hours) is in force');
    }
    return pass(
      `${String(endpoints.length)} endpoint assets; context policy v${String(policy)} in force`,
    );
  });
}

async function facilityHosting(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const inventory = new InventoryService(deps.db, deps.clock);
  const day = today(deps.clock);
  return inTenant(deps, tenantId, async (tx) => {
    const infra = (await inventory.assetsTx(tx)).filter((a) => INFRA_KINDS.has(a.kind));
    const open: string[] = [];
    for (const a of infra) {
      if (a.vendorId !== null) {
        const cover = await baaCoverage(tx, a.vendorId, day);
        if (cover.standing !== 'in_force')
          open.push(`${a.name}: hosting vendor's BAA ${cover.standing}`);
      } else if (a.attributes.hosting !== 'self') {
        open.push(`${a.name}: hosting not recorded`);
      }
    }
    if (infra.length === 0) return fail('no infrastructure asset is inventoried');
    return open.length === 0
      ? pass(`hosting of all ${String(infra.length)} infrastructure assets is accounted for`)
      : fail(`set attributes.hosting = "self" or a hosting vendor with a BAA: ${someOf(open)}`);
  });
}

const RETENTION_TRIGGERS = [
  ...[
    'compliance_vendors',
    'compliance_assets',
    'compliance_data_flows',
    'compliance_baas',
    'compliance_questionnaires',
    'compliance_remediation_items',
    'compliance_integrations',
    'compliance_baa_policies',
  ].flatMap((t) => [`${t}_keep_versions`, `${t}_no_truncate`]),
  'compliance_baa_documents_guard',
  'compliance_baa_documents_no_truncate',
  ...[
    'compliance_control_runs',
    'compliance_evidence_exports',
    'compliance_audit_verifications',
    'compliance_backup_verifications',
  ].flatMap((t) => [`${t}_no_change`, `${t}_no_truncate`]),
];

async function recordsRetained(deps: ControlDeps): Promise<CheckOutcome> {
  const years = deps.settings.auditRetentionYears;
  if (years < 6)
    return fail(`audit retention is ${String(years)} years (164.316(b)(2)(i) requires six)`);
  const missing = await deps.db.withoutTenant((tx) => missingTriggers(tx, RETENTION_TRIGGERS));
  return missing.length === 0
    ? pass(
        `program records are versioned and never deleted; evidence is append-only; audit retention ${String(years)} years`,
      )
    : fail(`retention guards missing or disabled: ${someOf(missing)}`);
}

async function evidenceAvailable(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const since = new Date(deps.clock.now().getTime() - 90 * DAY_MS);
  const row = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ exported_at: Date; manifest_sha256: string }>(
          'SELECT exported_at, manifest_sha256 FROM compliance_evidence_exports ORDER BY exported_at DESC, db_time DESC LIMIT 1',
        )
      ).rows[0],
  );
  if (row === undefined) return fail('no evidence bundle has been exported');
  return row.exported_at >= since
    ? pass(
        `bundle exported ${row.exported_at.toISOString()} (manifest sha256 ${row.manifest_sha256.slice(0, 16)}…)`,
      )
    : fail(`the last bundle was exported ${row.exported_at.toISOString()}, more than 90 days ago`);
}

async function evaluation(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const since = new Date(deps.clock.now().getTime() - 31 * DAY_MS);
  const row = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ run_at: Date; passed: number; failed: number }>(
          'SELECT run_at, passed, failed FROM compliance_control_runs ORDER BY run_at DESC, db_time DESC LIMIT 1',
        )
      ).rows[0],
  );
  if (row === undefined) return fail('the controls have not been evaluated before this run');
  return row.run_at >= since
    ? pass(
        `previous evaluation ${row.run_at.toISOString()}: ${String(row.passed)} passed, ${String(row.failed)} failed`,
      )
    : fail(`the previous evaluation (${row.run_at.toISOString()}) is more than 31 days old`);
}

async function epcsRegistrantLinked(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const day = today(deps.clock);
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ user_id: string; linked: boolean }>(
          `SELECT p.user_id, EXISTS (
                  SELECT 1 FROM identity_proofings ip JOIN proofing_dea_registrations d ON d.proofing_id = ip.id
                   WHERE ip.user_id = p.user_id AND ip.status = 'active' AND d.expires_on >= $1::date) AS linked
           FROM epcs_permissions p WHERE p.granted ORDER BY p.user_id`,
          [day],
        )
      ).rows,
  );
  const unlinked = rows.filter((r) => !r.linked).map((r) => r.user_id);
  if (unlinked.length > 0) {
    return fail(
      `EPCS signers without a current DEA registration on their proofing: ${someOf(unlinked)}`,
    );
  }
  return pass(
    rows.length === 0
      ? 'no prescriber holds EPCS permission'
      : `all ${String(rows.length)} EPCS signers linked to an unexpired DEA registration`,
  );
}

async function epcsDualControl(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const rows = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ user_id: string; ok: boolean }>(
          `SELECT p.user_id, (r.status = 'approved' AND r.approved_by IS NOT NULL
                            AND r.approved_by <> r.requested_by AND r.approval_step_up IS NOT NULL) AS ok
           FROM epcs_permissions p JOIN epcs_permission_requests r ON r.id = p.request_id
          ORDER BY p.user_id`,
        )
      ).rows,
  );
  const bad = rows.filter((r) => !r.ok).map((r) => r.user_id);
  return bad.length === 0
    ? pass(
        `${String(rows.length)} EPCS permission decisions, each entered by one person and approved by another with a step-up`,
      )
    : fail(`EPCS permissions without a second approver: ${someOf(bad)}`);
}

async function epcsDailyReview(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const since = new Date(deps.clock.now().getTime() - 2 * DAY_MS).toISOString().slice(0, 10);
  const row = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ signers: number; last: string | null }>(
          `SELECT (SELECT count(*)::int FROM epcs_permissions WHERE granted) AS signers,
                (SELECT max(day)::text FROM epcs_reviews) AS last`,
        )
      ).rows[0],
  );
  if ((row?.signers ?? 0) === 0) return pass('no EPCS prescriber in the tenant: nothing to review');
  const last = row?.last ?? null;
  return last !== null && last >= since
    ? pass(`latest daily EPCS review: ${last}`)
    : fail(
        last === null
          ? 'no daily EPCS review has been produced'
          : `the latest daily EPCS review is for ${last}`,
      );
}

/**
 * 21 CFR 1311.120(b)(27)(i): the log of the previous calendar month must be available to each
 * practitioner no later than seven days after the month ends.
 */
async function epcsMonthlyLog(deps: ControlDeps, tenantId: TenantId): Promise<CheckOutcome> {
  const now = deps.clock.now();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const previousStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const month = previousStart.toISOString().slice(0, 7);
  if (now.getUTCDate() < 8) return pass(`the log for ${month} is due on the 7th; not checked yet`);
  const missing = await inTenant(
    deps,
    tenantId,
    async (tx) =>
      (
        await tx.query<{ prescriber_id: string }>(
          `SELECT DISTINCT p.prescriber_id FROM prescriptions p
            WHERE p.dea_schedule IS NOT NULL AND p.signed_at >= $1 AND p.signed_at < $2
              AND NOT EXISTS (SELECT 1 FROM prescriber_monthly_logs l
                               WHERE l.prescriber_id = p.prescriber_id AND l.month = $3)
            ORDER BY p.prescriber_id`,
          [previousStart, monthStart, month],
        )
      ).rows,
  );
  return missing.length === 0
    ? pass(`every prescriber with controlled-substance prescriptions in ${month} has the log`)
    : fail(`no ${month} log for prescribers ${someOf(missing.map((r) => r.prescriber_id))}`);
}

async function signingKey(deps: ControlDeps): Promise<CheckOutcome> {
  const key = await deps.signingKey();
  if (key === undefined) return fail('no active platform signing key');
  if (deps.settings.keyProvider === 'pkcs11') {
    return pass(`active signing key ${key.keyId} is held by the PKCS#11 HSM`);
  }
  const module = await deps.cryptoModule();
  return module.fipsOperational
    ? pass(`active signing key ${key.keyId}; node:crypto runs on a working FIPS provider`)
    : fail(
        `active signing key ${key.keyId} is in local key files without a FIPS-validated module (${module.detail})`,
      );
}

function program(topic: ProgramTopic): Check {
  return async (deps, tenantId) => {
    const s = await inTenant(deps, tenantId, (tx) => deps.program.status(tx, tenantId, topic));
    if (s === undefined)
      return fail(`no record: the ${topic.replace(/_/g, ' ')} evidence is not recorded`);
    return s.ok ? pass(s.details) : fail(s.details);
  };
}

export const PLATFORM_CHECKS: Readonly<Partial<Record<ControlId, Check>>> = {
  'baa-coverage': baaCoverageCheck,
  'vendor-oversight': vendorOversight,
  'tls-policy': tlsPolicy,
  'backup-restore': backupRestore,
  'inventory-complete': inventoryComplete,
  'endpoint-policy': endpointPolicy,
  'facility-hosting': facilityHosting,
  'records-retained': recordsRetained,
  'evidence-available': evidenceAvailable,
  evaluation,
  'epcs-registrant-linked': epcsRegistrantLinked,
  'epcs-dual-control': epcsDualControl,
  'epcs-daily-review': epcsDailyReview,
  'epcs-monthly-log': epcsMonthlyLog,
  'signing-key': signingKey,
  'program-risk-analysis': program('risk_analysis'),
  'program-risk-management': program('risk_management'),
  'program-sanctions': program('sanction_policy'),
  'program-training': program('security_training'),
  'program-malware': program('malware_protection'),
  'program-incident-response': program('incident_procedures'),
  'program-contingency': program('contingency_plan'),
  'program-policies': program('policies'),
};
