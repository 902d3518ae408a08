-- Compliance program, part B: system inventory and data flows, vendors and Business Associate
-- Agreements (45 CFR 164.308(b), 164.314(a)), the integrations they gate, control-check runs and
-- evidence exports (164.308(a)(8), 164.316(b)), and the records of audit-log and backup
-- verifications the live control checks read.
--
-- Retention (45 CFR 164.316(b)(2)(i): six years from creation or last effective date): nothing in
-- this module is ever deleted. Program records are versioned: a change inserts the next version
-- and marks the previous one superseded, in one transaction with its audit record. A trigger on
-- every versioned table refuses DELETE, TRUNCATE and any UPDATE except marking a current version
-- superseded; evidence tables (control runs, exports, verification runs) are append-only like
-- the audit log (audit_reject_change from 0003). The signed BAA documents are kept sealed with the
-- tenant's data key (AES-256-GCM, AAD bound to tenant/table/column/row, like mfa_totp.secret);
-- their only permitted UPDATE is re-encryption under a new data key (dek_version + content).

-- Versioned tables: only "supersede the current version" passes.
CREATE FUNCTION scrip_compliance_keep_versions() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.superseded_at IS NULL AND NEW.superseded_at IS NOT NULL
     AND (to_jsonb(NEW) - 'superseded_at' - 'superseded_by')
         = (to_jsonb(OLD) - 'superseded_at' - 'superseded_by') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% keeps every version: only superseding the current version is allowed (% rejected)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

-- Sealed documents: only re-encryption (new data key version, new ciphertext) passes.
CREATE FUNCTION scrip_compliance_document_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (to_jsonb(NEW) - 'dek_version' - 'content') = (to_jsonb(OLD) - 'dek_version' - 'content') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% is kept as signed: % rejected (only re-encryption may rewrite a row)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

-- Common columns of a versioned program record:
--   id                 this version (primary key)
--   record_id          the record across its versions
--   version            1, 2, ...
--   record_created_at  when version 1 was written (retention runs from it)
--   changed_at/_by     when and by whom this version was written; change_reason why
--   superseded_at/_by  set once, when the next version is written (or the record retired)

CREATE TABLE compliance_vendors (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  services text NOT NULL CHECK (length(services) <= 2000),
  contact text NOT NULL CHECK (length(contact) <= 500),
  risk_rating text NOT NULL CHECK (risk_rating IN ('low', 'medium', 'high', 'critical')),
  phi_access boolean NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_assets (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  -- Components Scrip discovers in its own configuration carry a stable key (e.g. scrip.database).
  platform_key text CHECK (platform_key ~ '^[a-z][a-z0-9_.:/-]{0,199}$'),
  kind text NOT NULL CHECK (kind IN ('service', 'database', 'key_provider', 'integration', 'endpoint', 'device', 'storage')),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL CHECK (length(description) <= 2000),
  owner text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
  phi_classification text NOT NULL CHECK (phi_classification IN ('ephi', 'limited', 'none')),
  vendor_id uuid,
  attributes jsonb NOT NULL CHECK (jsonb_typeof(attributes) = 'object'),
  source text NOT NULL CHECK (source IN ('platform', 'manual')),
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_data_flows (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  platform_key text CHECK (platform_key ~ '^[a-z][a-z0-9_.:/-]{0,199}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  source_asset_id uuid NOT NULL,
  destination_asset_id uuid NOT NULL,
  phi_categories text[] NOT NULL CHECK (cardinality(phi_categories) <= 20),
  transport text NOT NULL CHECK (length(transport) BETWEEN 1 AND 200),
  encryption text NOT NULL CHECK (length(encryption) BETWEEN 1 AND 200),
  vendor_id uuid,
  description text NOT NULL CHECK (length(description) <= 2000),
  source text NOT NULL CHECK (source IN ('platform', 'manual')),
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_baas (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  vendor_id uuid NOT NULL,
  parties text[] NOT NULL CHECK (cardinality(parties) BETWEEN 2 AND 10),
  effective_date date NOT NULL,
  expiry_date date CHECK (expiry_date IS NULL OR expiry_date >= effective_date),
  permitted_uses text NOT NULL CHECK (length(permitted_uses) BETWEEN 1 AND 4000),
  -- 45 CFR 164.410(b): a business associate reports a breach without unreasonable delay and
  -- within 60 days of discovery; contracts usually promise less.
  breach_notice_days integer NOT NULL CHECK (breach_notice_days BETWEEN 1 AND 60),
  subcontractor_flow_down boolean NOT NULL,
  audit_rights boolean NOT NULL,
  return_destruction text NOT NULL CHECK (length(return_destruction) BETWEEN 1 AND 2000),
  status text NOT NULL CHECK (status IN ('active', 'terminated')),
  document_id uuid,
  document_sha256 text CHECK (document_sha256 ~ '^[0-9a-f]{64}$'),
  CHECK ((document_id IS NULL) = (document_sha256 IS NULL)),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_baa_documents (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  baa_id uuid NOT NULL,
  dek_version integer NOT NULL,
  -- Field-cipher blob of the document's base64 text.
  content bytea NOT NULL,
  media_type text NOT NULL CHECK (media_type ~ '^[a-z]+/[a-z0-9.+-]{1,100}$'),
  byte_length integer NOT NULL CHECK (byte_length BETWEEN 1 AND 8388608),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  uploaded_at timestamptz NOT NULL,
  uploaded_by text NOT NULL CHECK (length(uploaded_by) BETWEEN 1 AND 200)
);
CREATE INDEX compliance_baa_documents_baa ON compliance_baa_documents (tenant_id, baa_id);
CREATE INDEX compliance_baa_documents_dek_version ON compliance_baa_documents (tenant_id, dek_version, id);
CREATE TRIGGER compliance_baa_documents_data_key BEFORE INSERT OR UPDATE OF dek_version
  ON compliance_baa_documents FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

CREATE TABLE compliance_questionnaires (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  vendor_id uuid NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  sent_on date NOT NULL,
  received_on date,
  status text NOT NULL CHECK (status IN ('sent', 'received', 'reviewed')),
  score integer CHECK (score BETWEEN 0 AND 100),
  summary text NOT NULL CHECK (length(summary) <= 4000),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_remediation_items (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  vendor_id uuid NOT NULL,
  questionnaire_id uuid,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  owner text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
  due_date date NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'risk_accepted')),
  notes text NOT NULL CHECK (length(notes) <= 4000),
  UNIQUE (tenant_id, record_id, version)
);

CREATE TABLE compliance_integrations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  platform_key text CHECK (platform_key ~ '^[a-z][a-z0-9_.:/-]{0,199}$'),
  kind text NOT NULL CHECK (kind IN ('pharmacy_network', 'identity_provider', 'alert_webhook', 'export_target', 'siem')),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- What other modules name it by (an issuer URL, an endpoint id, a target name).
  ref text NOT NULL CHECK (length(ref) BETWEEN 1 AND 500),
  vendor_id uuid,
  asset_id uuid,
  sends_phi boolean NOT NULL,
  status text NOT NULL CHECK (status IN ('disabled', 'enabled', 'suspended', 'retired')),
  status_reason text CHECK (length(status_reason) <= 500),
  UNIQUE (tenant_id, record_id, version)
);

-- One record per tenant (record_id = tenant id): when BAA expiry alerts fire, and whether an
-- expired BAA suspends the vendor's PHI integrations.
CREATE TABLE compliance_baa_policies (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  record_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  record_created_at timestamptz NOT NULL,
  changed_at timestamptz NOT NULL,
  changed_by text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
  change_reason text CHECK (length(change_reason) <= 500),
  superseded_at timestamptz,
  superseded_by uuid,
  warn_days integer[] NOT NULL CHECK (cardinality(warn_days) BETWEEN 1 AND 5 AND 0 < ALL (warn_days)
                                      AND 366 > ALL (warn_days)),
  suspend_on_expiry boolean NOT NULL,
  UNIQUE (tenant_id, record_id, version)
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['compliance_vendors', 'compliance_assets', 'compliance_data_flows',
                           'compliance_baas', 'compliance_questionnaires',
                           'compliance_remediation_items', 'compliance_integrations',
                           'compliance_baa_policies'] LOOP
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (tenant_id, record_id) WHERE superseded_at IS NULL',
                   t || '_current', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION scrip_compliance_keep_versions()',
                   t || '_keep_versions', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()',
                   t || '_no_truncate', t);
  END LOOP;
END $$;
CREATE UNIQUE INDEX compliance_assets_platform_key ON compliance_assets (tenant_id, platform_key)
  WHERE superseded_at IS NULL AND platform_key IS NOT NULL;
CREATE UNIQUE INDEX compliance_data_flows_platform_key ON compliance_data_flows (tenant_id, platform_key)
  WHERE superseded_at IS NULL AND platform_key IS NOT NULL;
CREATE UNIQUE INDEX compliance_integrations_ref ON compliance_integrations (tenant_id, kind, ref)
  WHERE superseded_at IS NULL AND status <> 'retired';
CREATE INDEX compliance_baas_vendor ON compliance_baas (tenant_id, vendor_id) WHERE superseded_at IS NULL;

CREATE TRIGGER compliance_baa_documents_guard BEFORE UPDATE OR DELETE ON compliance_baa_documents
  FOR EACH ROW EXECUTE FUNCTION scrip_compliance_document_guard();
CREATE TRIGGER compliance_baa_documents_no_truncate BEFORE TRUNCATE ON compliance_baa_documents
  FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- Evidence that controls operate (164.308(a)(8), 164.316(b)(1)): append-only. ----------------

-- One run of every control check for a tenant, with each check's result.
CREATE TABLE compliance_control_runs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  run_at timestamptz NOT NULL,
  run_by text NOT NULL CHECK (length(run_by) BETWEEN 1 AND 200),
  passed integer NOT NULL CHECK (passed >= 0),
  failed integer NOT NULL CHECK (failed >= 0),
  results jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
  -- Orders runs stamped with the same clock time (a frozen test clock, a burst of runs).
  db_time timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX compliance_control_runs_at ON compliance_control_runs (tenant_id, run_at DESC, db_time DESC);

-- Each signed evidence bundle written (its manifest digest and signing key).
CREATE TABLE compliance_evidence_exports (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  exported_at timestamptz NOT NULL,
  exported_by text NOT NULL CHECK (length(exported_by) BETWEEN 1 AND 200),
  manifest_sha256 text NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
  files integer NOT NULL CHECK (files >= 0),
  key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 200),
  db_time timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX compliance_evidence_exports_at ON compliance_evidence_exports (tenant_id, exported_at DESC);

-- Every verification of the whole audit log (src/audit/audit-verify.ts), whoever ran it. Platform
-- rows: the log spans all tenants.
CREATE TABLE compliance_audit_verifications (
  id uuid PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  verified_at timestamptz NOT NULL,
  ok boolean NOT NULL,
  records bigint NOT NULL CHECK (records >= 0),
  checkpoints integer NOT NULL CHECK (checkpoints >= 0),
  root_hash text NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
  problem_kind text CHECK (length(problem_kind) <= 50),
  problem_seq bigint,
  source text NOT NULL CHECK (source ~ '^[a-z][a-z0-9_-]{0,39}$'),
  db_time timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (ok = (problem_kind IS NULL))
);
CREATE INDEX compliance_audit_verifications_at ON compliance_audit_verifications (verified_at DESC);

-- Backups restored (scrip restore) or restore drills (every record of the file decrypted and
-- parsed, migrations compared) with their outcome. Platform rows.
CREATE TABLE compliance_backup_verifications (
  id uuid PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  verified_at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('restore', 'restore_drill')),
  ok boolean NOT NULL,
  file_sha256 text CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  tables integer NOT NULL CHECK (tables >= 0),
  rows bigint NOT NULL CHECK (rows >= 0),
  detail text CHECK (length(detail) <= 500),
  db_time timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX compliance_backup_verifications_at ON compliance_backup_verifications (verified_at DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['compliance_control_runs', 'compliance_evidence_exports',
                           'compliance_audit_verifications', 'compliance_backup_verifications'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit_reject_change()',
                   t || '_no_change', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()',
                   t || '_no_truncate', t);
  END LOOP;
END $$;

-- Row-level security: a tenant's rows in its context, platform rows outside any tenant, and the
-- backup reader (0012's helper).
SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['compliance_vendors', 'compliance_assets', 'compliance_data_flows',
                    'compliance_baas', 'compliance_baa_documents', 'compliance_questionnaires',
                    'compliance_remediation_items', 'compliance_integrations',
                    'compliance_baa_policies', 'compliance_control_runs',
                    'compliance_evidence_exports', 'compliance_audit_verifications',
                    'compliance_backup_verifications']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON compliance_vendors, compliance_assets, compliance_data_flows,
  compliance_baas, compliance_baa_documents, compliance_questionnaires,
  compliance_remediation_items, compliance_integrations, compliance_baa_policies TO scrip_app;
GRANT SELECT, INSERT ON compliance_control_runs, compliance_evidence_exports,
  compliance_audit_verifications, compliance_backup_verifications TO scrip_app;
