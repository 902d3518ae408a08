-- Drug catalog and change control (issue 7, item 2). Catalog changes, formulary updates and
-- pharmacy routing rules affect patient safety: each is a proposal that a second authorised person
-- approves, taking effect on or after its effective date, with the whole history kept
-- (45 CFR 164.312(c)(1) integrity; 21 CFR 1311.120(b) requires the schedule a drug carries).
-- Reference data, not PHI: nothing here is encrypted.

-- Proposals of every kind. Appliers per kind live in the application (change-control.service.ts).
CREATE TABLE change_proposals (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  kind text NOT NULL CHECK (kind IN ('catalog', 'formulary', 'routing')),
  payload jsonb NOT NULL,
  summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 500),
  effective_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'applied')),
  proposed_by uuid NOT NULL REFERENCES users (id),
  proposed_at timestamptz NOT NULL,
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  decision_note text CHECK (length(decision_note) <= 2000),
  applied_at timestamptz,
  applied_version integer,
  CHECK (decided_by IS NULL OR decided_by <> proposed_by),
  CHECK ((status = 'proposed') = (decided_by IS NULL)),
  CHECK ((status = 'applied') = (applied_at IS NOT NULL AND applied_version IS NOT NULL))
);
CREATE INDEX change_proposals_list ON change_proposals (tenant_id, proposed_at DESC);
CREATE INDEX change_proposals_due ON change_proposals (tenant_id, effective_at)
  WHERE status = 'approved';

-- A proposal's content never changes and its status only moves forward
-- (proposed -> approved | rejected, approved -> applied); proposals are never deleted.
CREATE FUNCTION change_proposals_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'change proposals are never deleted' USING ERRCODE = 'SK016';
  END IF;
  IF NEW.id <> OLD.id OR NEW.tenant_id <> OLD.tenant_id OR NEW.kind <> OLD.kind
     OR NEW.payload <> OLD.payload OR NEW.summary <> OLD.summary
     OR NEW.effective_at <> OLD.effective_at OR NEW.proposed_by <> OLD.proposed_by
     OR NEW.proposed_at <> OLD.proposed_at THEN
    RAISE EXCEPTION 'a change proposal''s content is immutable' USING ERRCODE = 'SK016';
  END IF;
  IF OLD.decided_by IS NOT NULL AND (NEW.decided_by IS DISTINCT FROM OLD.decided_by
       OR NEW.decided_at IS DISTINCT FROM OLD.decided_at) THEN
    RAISE EXCEPTION 'a decision is final' USING ERRCODE = 'SK016';
  END IF;
  IF NOT ((OLD.status = 'proposed' AND NEW.status IN ('approved', 'rejected'))
          OR (OLD.status = 'approved' AND NEW.status = 'applied')) THEN
    RAISE EXCEPTION 'change proposal status % cannot become %', OLD.status, NEW.status
      USING ERRCODE = 'SK016';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER change_proposals_guard BEFORE UPDATE OR DELETE ON change_proposals
  FOR EACH ROW EXECUTE FUNCTION change_proposals_guard();

-- Every step of every proposal, append-only.
CREATE TABLE change_proposal_events (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  proposal_id uuid NOT NULL REFERENCES change_proposals (id),
  event text NOT NULL CHECK (event IN ('proposed', 'approved', 'rejected', 'applied')),
  actor uuid REFERENCES users (id),
  at timestamptz NOT NULL,
  note text CHECK (length(note) <= 2000),
  PRIMARY KEY (proposal_id, event)
);

-- Each applied proposal bumps the tenant's reference-data version.
CREATE TABLE catalog_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  version integer NOT NULL CHECK (version > 0),
  proposal_id uuid NOT NULL UNIQUE REFERENCES change_proposals (id),
  kind text NOT NULL,
  applied_at timestamptz NOT NULL,
  details jsonb NOT NULL,
  PRIMARY KEY (tenant_id, version)
);

-- The catalog in force. `version` is the catalog version that last changed the row.
CREATE TABLE drugs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  rxcui text NOT NULL CHECK (rxcui ~ '^[0-9]{1,12}$'),
  tty text NOT NULL CHECK (tty ~ '^[A-Z]{2,8}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 3000),
  strength text CHECK (length(strength) <= 500),
  dose_form text CHECK (length(dose_form) <= 200),
  route text CHECK (length(route) <= 100),
  ingredients jsonb NOT NULL CHECK (jsonb_typeof(ingredients) = 'array'),
  ingredient_rxcuis text[] NOT NULL,
  ndcs text[] NOT NULL,
  dea_schedule text CHECK (dea_schedule IN ('CII', 'CIII', 'CIV', 'CV')),
  max_single_dose numeric CHECK (max_single_dose > 0),
  max_daily_dose numeric CHECK (max_daily_dose > 0),
  dose_unit text CHECK (length(dose_unit) BETWEEN 1 AND 40),
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  version integer NOT NULL CHECK (version > 0),
  updated_at timestamptz NOT NULL,
  CHECK ((max_single_dose IS NULL AND max_daily_dose IS NULL) = (dose_unit IS NULL)),
  UNIQUE (tenant_id, rxcui)
);
CREATE INDEX drugs_name_prefix ON drugs (tenant_id, lower(name) text_pattern_ops);
CREATE INDEX drugs_ndcs ON drugs USING gin (ndcs);

-- The previous state of every drug a change replaced: `version` is the state's own version,
-- `superseded_by` the version that replaced it. Append-only.
CREATE TABLE drug_history (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  drug_id uuid NOT NULL REFERENCES drugs (id),
  version integer NOT NULL,
  superseded_by integer NOT NULL CHECK (superseded_by > version),
  state jsonb NOT NULL,
  superseded_at timestamptz NOT NULL,
  PRIMARY KEY (drug_id, superseded_by)
);
CREATE INDEX drug_history_tenant ON drug_history (tenant_id, superseded_by);

-- Formulary status per drug, as versioned rows: the highest version per RXCUI is in force.
CREATE TABLE formulary_entries (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  rxcui text NOT NULL CHECK (rxcui ~ '^[0-9]{1,12}$'),
  version integer NOT NULL CHECK (version > 0),
  status text NOT NULL CHECK (status IN ('preferred', 'non_preferred', 'not_covered')),
  notes text CHECK (length(notes) <= 2000),
  effective_from timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, rxcui, version)
);

CREATE FUNCTION drugs_append_only() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'SK016';
END $$;
CREATE TRIGGER change_proposal_events_append_only BEFORE UPDATE OR DELETE ON change_proposal_events
  FOR EACH ROW EXECUTE FUNCTION drugs_append_only();
CREATE TRIGGER catalog_versions_append_only BEFORE UPDATE OR DELETE ON catalog_versions
  FOR EACH ROW EXECUTE FUNCTION drugs_append_only();
CREATE TRIGGER drug_history_append_only BEFORE UPDATE OR DELETE ON drug_history
  FOR EACH ROW EXECUTE FUNCTION drugs_append_only();
CREATE TRIGGER formulary_entries_append_only BEFORE UPDATE OR DELETE ON formulary_entries
  FOR EACH ROW EXECUTE FUNCTION drugs_append_only();
CREATE TRIGGER drugs_no_delete BEFORE DELETE ON drugs
  FOR EACH ROW EXECUTE FUNCTION drugs_append_only();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['change_proposals', 'change_proposal_events', 'catalog_versions', 'drugs',
                    'drug_history', 'formulary_entries']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON change_proposals TO scrip_app;
GRANT SELECT, INSERT ON change_proposal_events TO scrip_app;
GRANT SELECT, INSERT ON catalog_versions TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON drugs TO scrip_app;
GRANT SELECT, INSERT ON drug_history TO scrip_app;
GRANT SELECT, INSERT ON formulary_entries TO scrip_app;
