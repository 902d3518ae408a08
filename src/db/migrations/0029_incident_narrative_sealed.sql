-- Incident narrative sealed at rest (issue #9 audit). Summaries, lessons learned, timeline and
-- evidence notes, the breach decision's rationale and the notice content are free text that may
-- describe patients; like every PHI column they become field-cipher blobs under the tenant's data
-- key (src/compliance/incident-narrative.ts), with dek_version so rotation re-encrypts them and
-- shredding destroys them. Their only permitted UPDATE is that re-encryption.
--
-- SQL cannot encrypt with a tenant key, so the plaintext columns are replaced, not converted: the
-- migration refuses to run while any of these tables holds a row, rather than drop or keep
-- plaintext. Also: TRUNCATE refused on every 0015 table (0014 does so for its own tables).

DO $$
DECLARE
  t text;
  n bigint;
BEGIN
  FOREACH t IN ARRAY ARRAY['compliance_incident_versions', 'compliance_incident_timeline',
                           'compliance_incident_evidence', 'compliance_breach_assessments'] LOOP
    EXECUTE format('SELECT count(*) FROM %I', t) INTO n;
    IF n > 0 THEN
      RAISE EXCEPTION '0029 seals the incident narrative, but % already holds % plaintext row(s); this migration does not convert them (see docs/compliance.md, "Incident narrative at rest")', t, n
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
  END LOOP;
END $$;

ALTER TABLE compliance_incident_versions
  DROP COLUMN summary,
  DROP COLUMN lessons_learned,
  ADD COLUMN id uuid NOT NULL UNIQUE,
  ADD COLUMN dek_version integer NOT NULL,
  ADD COLUMN summary bytea NOT NULL,
  ADD COLUMN lessons_learned bytea,
  ADD CHECK (status <> 'closed' OR lessons_learned IS NOT NULL);

ALTER TABLE compliance_incident_timeline
  DROP COLUMN text,
  ADD COLUMN dek_version integer NOT NULL,
  ADD COLUMN text bytea;

ALTER TABLE compliance_incident_evidence
  DROP COLUMN note,
  ADD COLUMN dek_version integer NOT NULL,
  ADD COLUMN note bytea;

ALTER TABLE compliance_breach_assessments
  DROP COLUMN rationale,
  DROP COLUMN notice,
  ADD COLUMN id uuid NOT NULL UNIQUE,
  ADD COLUMN dek_version integer NOT NULL,
  ADD COLUMN rationale bytea NOT NULL,
  ADD COLUMN notice bytea;

-- Append-only except re-encryption: an UPDATE may change dek_version and the sealed columns
-- (named as the trigger's arguments), nothing else.
CREATE FUNCTION compliance_sealed_guard() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (to_jsonb(NEW) - 'dek_version' - TG_ARGV) = (to_jsonb(OLD) - 'dek_version' - TG_ARGV) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% is append-only: % rejected (only re-encryption may rewrite sealed columns)',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE
  t text;
  cols text;
BEGIN
  FOR t, cols IN VALUES ('compliance_incident_versions', 'summary, lessons_learned'),
                        ('compliance_incident_timeline', 'text'),
                        ('compliance_incident_evidence', 'note'),
                        ('compliance_breach_assessments', 'rationale, notice') LOOP
    EXECUTE format('DROP TRIGGER %I ON %I', t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION compliance_sealed_guard(%s)',
                   t || '_append_only', t,
                   (SELECT string_agg(quote_literal(trim(c)), ', ') FROM unnest(string_to_array(cols, ',')) AS c));
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF dek_version ON %I FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key()',
                   t || '_data_key', t);
    EXECUTE format('CREATE INDEX %I ON %I (tenant_id, dek_version, id)', t || '_dek_version', t);
    EXECUTE format('GRANT UPDATE (dek_version, %s) ON %I TO scrip_app', cols, t);
  END LOOP;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['compliance_risk_versions', 'compliance_reassessment_tasks',
                           'compliance_incidents', 'compliance_incident_versions',
                           'compliance_incident_timeline', 'compliance_incident_evidence',
                           'compliance_playbook_versions', 'compliance_tabletop_versions',
                           'compliance_breach_assessments', 'compliance_breach_notices',
                           'compliance_policies', 'compliance_policy_versions',
                           'compliance_policy_approvals', 'compliance_policy_reviews',
                           'compliance_policy_acknowledgements', 'compliance_training_records',
                           'compliance_alert_marks'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()',
                   t || '_no_truncate', t);
  END LOOP;
END $$;
