-- Compliance program records (part A of the compliance issue): the risk register and its
-- reassessment tasks (45 CFR 164.308(a)(1)(ii)(A)-(B)), incidents with timelines, playbooks,
-- containment, preserved audit evidence and tabletop exercises (164.308(a)(6), (a)(7)(ii)(D)),
-- breach risk assessments and notices (164.402-164.410), policies with approvals, reviews and
-- acknowledgements, and workforce training (164.308(a)(5), 164.316).
--
-- Retention (164.316(b)(2)(i): six years from creation or last effective date): nothing here is
-- updated in place or deleted. A change is a new version row; the newest version is current and
-- the older ones are its history. Triggers refuse UPDATE and DELETE for everyone, the owner
-- included; the one exception is a reassessment task, which moves once from open to done and is
-- then frozen (as epcs_review_items in 0007). The application role gets SELECT and INSERT only.
--
-- Asset references are opaque text: the inventory (a separate table set) owns assets, and a risk
-- must outlive a renamed or retired asset, so there is no foreign key to it.
--
-- No PHI: identifiers, codes, counts, dates and program text written by the compliance team.

CREATE FUNCTION compliance_reject_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: record a new version instead', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

-- Risk register ---------------------------------------------------------------------------------

CREATE TABLE compliance_risk_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  risk_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  asset_refs text[] NOT NULL CHECK (cardinality(asset_refs) <= 50),
  threat text NOT NULL CHECK (length(threat) BETWEEN 1 AND 2000),
  vulnerability text NOT NULL CHECK (length(vulnerability) BETWEEN 1 AND 2000),
  likelihood smallint NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
  impact smallint NOT NULL CHECK (impact BETWEEN 1 AND 5),
  inherent_score smallint GENERATED ALWAYS AS (likelihood * impact) STORED,
  residual_likelihood smallint NOT NULL CHECK (residual_likelihood BETWEEN 1 AND 5),
  residual_impact smallint NOT NULL CHECK (residual_impact BETWEEN 1 AND 5),
  residual_score smallint GENERATED ALWAYS AS (residual_likelihood * residual_impact) STORED,
  owner_id uuid NOT NULL REFERENCES users (id),
  treatment text NOT NULL CHECK (treatment IN ('mitigate', 'accept', 'transfer', 'avoid')),
  control_ids text[] NOT NULL CHECK (cardinality(control_ids) <= 50),
  acceptance_criteria text NOT NULL CHECK (length(acceptance_criteria) <= 2000),
  due_date date,
  status text NOT NULL CHECK (status IN ('open', 'in_treatment', 'accepted', 'closed')),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  -- The reassessment task this version answers, if any.
  task_id uuid,
  changed_by uuid NOT NULL REFERENCES users (id),
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, risk_id, version),
  CHECK (residual_likelihood * residual_impact <= likelihood * impact),
  CHECK (treatment <> 'accept' OR length(acceptance_criteria) > 0)
);
CREATE INDEX compliance_risk_assets ON compliance_risk_versions USING gin (asset_refs);

CREATE TABLE compliance_reassessment_tasks (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  risk_id uuid NOT NULL,
  asset_ref text NOT NULL CHECK (length(asset_ref) BETWEEN 1 AND 200),
  cause text NOT NULL CHECK (length(cause) BETWEEN 1 AND 500),
  opened_at timestamptz NOT NULL,
  due_date date NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'done')),
  completed_by uuid REFERENCES users (id),
  completed_at timestamptz,
  risk_version integer,
  CHECK ((status = 'done') = (completed_at IS NOT NULL)),
  CHECK ((status = 'done') = (risk_version IS NOT NULL))
);
-- One open reassessment per risk: later inventory changes join it (their causes are audited).
CREATE UNIQUE INDEX compliance_reassessment_open
  ON compliance_reassessment_tasks (tenant_id, risk_id) WHERE status = 'open';

CREATE FUNCTION compliance_task_guard() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR OLD.status <> 'open' OR NEW.status <> 'done'
     OR (NEW.id, NEW.tenant_id, NEW.risk_id, NEW.asset_ref, NEW.cause, NEW.opened_at, NEW.due_date)
        IS DISTINCT FROM
        (OLD.id, OLD.tenant_id, OLD.risk_id, OLD.asset_ref, OLD.cause, OLD.opened_at, OLD.due_date)
  THEN
    RAISE EXCEPTION 'a reassessment task only moves once, from open to done'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER compliance_reassessment_tasks_guard BEFORE UPDATE OR DELETE
  ON compliance_reassessment_tasks FOR EACH ROW EXECUTE FUNCTION compliance_task_guard();

-- Incidents -------------------------------------------------------------------------------------

-- The fixed part of an incident: its category and the playbook checklist it started with.
CREATE TABLE compliance_incidents (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  category text NOT NULL CHECK (category IN ('credential_theft', 'misdirected_prescription',
    'compromised_endpoint', 'vendor_breach', 'lost_device', 'other')),
  playbook_version integer NOT NULL CHECK (playbook_version >= 0),
  checklist jsonb NOT NULL CHECK (jsonb_typeof(checklist) = 'array'),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL
);

CREATE TABLE compliance_incident_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  incident_id uuid NOT NULL REFERENCES compliance_incidents (id),
  version integer NOT NULL CHECK (version >= 1),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  summary text NOT NULL CHECK (length(summary) <= 4000),
  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status text NOT NULL CHECK (status IN ('open', 'contained', 'resolved', 'closed')),
  discovered_at timestamptz NOT NULL,
  roles jsonb NOT NULL CHECK (jsonb_typeof(roles) = 'object'),
  lessons_learned text CHECK (length(lessons_learned) <= 8000),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  changed_by uuid NOT NULL REFERENCES users (id),
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, incident_id, version),
  CHECK (status <> 'closed' OR lessons_learned IS NOT NULL)
);

CREATE TABLE compliance_incident_timeline (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  incident_id uuid NOT NULL REFERENCES compliance_incidents (id),
  entry integer NOT NULL CHECK (entry >= 1),
  at timestamptz NOT NULL,
  kind text NOT NULL CHECK (kind IN ('created', 'updated', 'note', 'checklist', 'containment',
    'evidence', 'assessment', 'notice')),
  actor_user_id uuid REFERENCES users (id),
  text text CHECK (length(text) <= 4000),
  details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object'),
  UNIQUE (incident_id, entry)
);

-- Preserved audit evidence: a seq range of this tenant's audit records, the signed checkpoint
-- that covers it, and an RFC 9162 inclusion proof per record (scrip audit verify-proof checks
-- each offline with the log's public key).
CREATE TABLE compliance_incident_evidence (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  incident_id uuid NOT NULL REFERENCES compliance_incidents (id),
  from_seq bigint NOT NULL CHECK (from_seq >= 0),
  to_seq bigint NOT NULL,
  records integer NOT NULL CHECK (records >= 1),
  checkpoint_size bigint NOT NULL CHECK (checkpoint_size >= to_seq),
  checkpoint_note text NOT NULL,
  proofs jsonb NOT NULL CHECK (jsonb_typeof(proofs) = 'array'),
  note text CHECK (length(note) <= 2000),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL,
  CHECK (to_seq > from_seq)
);

-- Playbooks: version 0 is the shipped default (code); tenants supersede it with versions >= 1.
CREATE TABLE compliance_playbook_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  category text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  items jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  changed_by uuid NOT NULL REFERENCES users (id),
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, category, version)
);

CREATE TABLE compliance_tabletop_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  exercise_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  held_on date NOT NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  category text NOT NULL,
  scenario text NOT NULL CHECK (length(scenario) BETWEEN 1 AND 8000),
  participants text[] NOT NULL CHECK (cardinality(participants) <= 100),
  findings text NOT NULL CHECK (length(findings) <= 8000),
  action_items jsonb NOT NULL CHECK (jsonb_typeof(action_items) = 'array'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  changed_by uuid NOT NULL REFERENCES users (id),
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, exercise_id, version)
);

-- Breach risk assessment (164.402(2)) and notices -----------------------------------------------

CREATE TABLE compliance_breach_assessments (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  incident_id uuid NOT NULL REFERENCES compliance_incidents (id),
  version integer NOT NULL CHECK (version >= 1),
  -- The four factors, each rated and explained.
  factors jsonb NOT NULL CHECK (jsonb_typeof(factors) = 'object'),
  decision text NOT NULL CHECK (decision IN ('breach', 'not_breach', 'low_probability')),
  exception text,
  rationale text NOT NULL CHECK (length(rationale) BETWEEN 1 AND 4000),
  role text NOT NULL CHECK (role IN ('covered_entity', 'business_associate')),
  discovered_on date NOT NULL,
  occurred_from date,
  occurred_to date,
  affected_by_jurisdiction jsonb NOT NULL CHECK (jsonb_typeof(affected_by_jurisdiction) = 'object'),
  affected_total integer NOT NULL CHECK (affected_total >= 0),
  phi_types text[] NOT NULL,
  -- The entity-level content of the 164.404(c) notice (never an individual's data).
  notice jsonb CHECK (notice IS NULL OR jsonb_typeof(notice) = 'object'),
  assessed_by uuid NOT NULL REFERENCES users (id),
  assessed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, incident_id, version),
  CHECK ((decision = 'not_breach') = (exception IS NOT NULL)),
  CHECK (occurred_to IS NULL OR occurred_from IS NULL OR occurred_to >= occurred_from)
);

CREATE TABLE compliance_breach_notices (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  incident_id uuid NOT NULL REFERENCES compliance_incidents (id),
  recipient text NOT NULL CHECK (recipient IN ('individuals', 'hhs', 'media', 'covered_entity')),
  jurisdiction text,
  sent_on date NOT NULL,
  method text NOT NULL CHECK (length(method) BETWEEN 1 AND 200),
  recipients_count integer CHECK (recipients_count >= 0),
  recorded_by uuid NOT NULL REFERENCES users (id),
  recorded_at timestamptz NOT NULL,
  CHECK ((recipient = 'media') = (jurisdiction IS NOT NULL))
);

-- Policies and training ---------------------------------------------------------------------------

CREATE TABLE compliance_policies (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_-]{1,63}$'),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL,
  UNIQUE (tenant_id, key)
);

CREATE TABLE compliance_policy_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  policy_id uuid NOT NULL REFERENCES compliance_policies (id),
  version integer NOT NULL CHECK (version >= 1),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 200000),
  body_sha256 text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  author_id uuid NOT NULL REFERENCES users (id),
  effective_date date NOT NULL,
  review_cycle_months integer NOT NULL CHECK (review_cycle_months BETWEEN 1 AND 36),
  acknowledgement_days integer NOT NULL CHECK (acknowledgement_days BETWEEN 1 AND 365),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, policy_id, version),
  UNIQUE (tenant_id, policy_id, version, author_id)
);

-- Approval by someone other than the author: the author is copied through a foreign key to the
-- version, so the database itself refuses self-approval.
CREATE TABLE compliance_policy_approvals (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  policy_id uuid NOT NULL,
  version integer NOT NULL,
  author_id uuid NOT NULL,
  approved_by uuid NOT NULL REFERENCES users (id),
  approved_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, policy_id, version),
  FOREIGN KEY (tenant_id, policy_id, version, author_id)
    REFERENCES compliance_policy_versions (tenant_id, policy_id, version, author_id),
  CHECK (approved_by <> author_id)
);

CREATE TABLE compliance_policy_reviews (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  policy_id uuid NOT NULL REFERENCES compliance_policies (id),
  version integer NOT NULL,
  reviewed_by uuid NOT NULL REFERENCES users (id),
  reviewed_on date NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('no_change', 'revision_needed')),
  note text CHECK (length(note) <= 2000),
  next_review date NOT NULL,
  recorded_at timestamptz NOT NULL,
  FOREIGN KEY (tenant_id, policy_id, version)
    REFERENCES compliance_policy_versions (tenant_id, policy_id, version)
);

CREATE TABLE compliance_policy_acknowledgements (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  policy_id uuid NOT NULL,
  version integer NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id),
  acknowledged_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, policy_id, version, user_id),
  FOREIGN KEY (tenant_id, policy_id, version)
    REFERENCES compliance_policy_approvals (tenant_id, policy_id, version)
);

CREATE TABLE compliance_training_records (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  course text NOT NULL CHECK (course ~ '^[a-z][a-z0-9_.-]{1,63}$'),
  completed_on date NOT NULL,
  expires_on date,
  evidence_ref text CHECK (length(evidence_ref) <= 500),
  -- The record this one corrects (checked by the application: no self-reference for restores).
  supersedes uuid,
  recorded_by uuid NOT NULL REFERENCES users (id),
  recorded_at timestamptz NOT NULL,
  CHECK (expires_on IS NULL OR expires_on > completed_on)
);
CREATE INDEX compliance_training_user ON compliance_training_records (tenant_id, user_id, course);

-- Alerts raised by the periodic checks, one row per condition (item, deadline, threshold), so a
-- condition is reported once however often the check runs.
CREATE TABLE compliance_alert_marks (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 300),
  raised_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- Append-only, tenant-scoped, readable and insertable by the application role --------------------

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['compliance_risk_versions', 'compliance_incidents',
                           'compliance_incident_versions', 'compliance_incident_timeline',
                           'compliance_incident_evidence', 'compliance_playbook_versions',
                           'compliance_tabletop_versions', 'compliance_breach_assessments',
                           'compliance_breach_notices', 'compliance_policies',
                           'compliance_policy_versions', 'compliance_policy_approvals',
                           'compliance_policy_reviews', 'compliance_policy_acknowledgements',
                           'compliance_training_records', 'compliance_alert_marks'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION compliance_reject_change()', t || '_append_only', t);
    EXECUTE format('GRANT SELECT, INSERT ON %I TO scrip_app', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON compliance_reassessment_tasks TO scrip_app;

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['compliance_risk_versions', 'compliance_reassessment_tasks',
                    'compliance_incidents', 'compliance_incident_versions',
                    'compliance_incident_timeline', 'compliance_incident_evidence',
                    'compliance_playbook_versions', 'compliance_tabletop_versions',
                    'compliance_breach_assessments', 'compliance_breach_notices',
                    'compliance_policies', 'compliance_policy_versions',
                    'compliance_policy_approvals', 'compliance_policy_reviews',
                    'compliance_policy_acknowledgements', 'compliance_training_records',
                    'compliance_alert_marks']::regclass[]) AS t;
