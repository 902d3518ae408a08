-- Monitoring (45 CFR 164.308(a)(1)(ii)(D) information system activity review, 164.312(b)) and
-- the daily EPCS audit review (21 CFR 1311.150, 1311.215): per-tenant rule configuration, the
-- detector's cursor over the audit log and its sliding-window state, stored and deduplicated
-- alerts, the alert delivery outbox, and the daily incident reports with a person's decisions.
--
-- Tenancy follows audit_log: a tenant's rows are visible only in its own context, platform rows
-- (tenant_id NULL) only outside any tenant. The detector (src/monitoring/detector.ts) switches
-- scrip.tenant_id inside its one transaction, so its cursor, window state and alerts commit
-- together. Nothing here holds PHI: identifiers, counts and codes only.

-- Rule configuration; a missing row means the rule's defaults (src/monitoring/rules.ts).
CREATE TABLE monitoring_rules (
  tenant_id uuid REFERENCES tenants (id),
  rule text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]{0,63}$'),
  enabled boolean NOT NULL,
  params jsonb NOT NULL CHECK (jsonb_typeof(params) = 'object'),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE NULLS NOT DISTINCT (tenant_id, rule)
);

-- One row per detector: the last audit seq it has fully processed. Platform table.
CREATE TABLE monitoring_cursors (
  detector text PRIMARY KEY CHECK (detector ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  last_seq bigint NOT NULL CHECK (last_seq >= -1),
  updated_at timestamptz NOT NULL
);

-- Sliding-window observations (bulk lookups, failed-login bursts), pruned past the longest window.
CREATE TABLE monitoring_window_events (
  detector text NOT NULL,
  tenant_id uuid,
  rule text NOT NULL,
  subject text NOT NULL,
  item text NOT NULL,
  at timestamptz NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (detector, rule, seq, item)
);
CREATE INDEX monitoring_window_events_subject
  ON monitoring_window_events (detector, rule, subject, at);
CREATE INDEX monitoring_window_events_at ON monitoring_window_events (detector, at);

-- No foreign key on tenant_id: an audit record names its tenant by id, and a record whose tenant
-- row is gone must not stall the detector.
CREATE TABLE alerts (
  id uuid PRIMARY KEY,
  tenant_id uuid,
  rule text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
  dedup_key text NOT NULL CHECK (length(dedup_key) <= 400),
  subject text,
  details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object'),
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  count integer NOT NULL CHECK (count >= 1),
  status text NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
  acknowledged_by text,
  acknowledged_at timestamptz,
  note text CHECK (length(note) <= 1000),
  closed_by text,
  closed_at timestamptz,
  UNIQUE NULLS NOT DISTINCT (tenant_id, dedup_key),
  CHECK ((status = 'open') = (acknowledged_at IS NULL AND closed_at IS NULL)),
  CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE INDEX alerts_status ON alerts (tenant_id, status, last_seen DESC);

-- Delivery outbox: one row per alert and sink, written with the alert. The payload is the
-- alert's ids, codes and counts (src/monitoring/sinks.ts AlertNotice); deliveries go to the
-- platform's monitoring endpoints, so this is a platform table.
CREATE TABLE alert_deliveries (
  id uuid PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  alert_id uuid NOT NULL,
  sink text NOT NULL CHECK (sink ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  payload jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text CHECK (length(last_error) <= 200),
  created_at timestamptz NOT NULL,
  sent_at timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

-- Daily EPCS incident report (21 CFR 1311.150(b)), one per tenant and local day.
CREATE TABLE epcs_reviews (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  day date NOT NULL,
  time_zone text NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  counts jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
  created_at timestamptz NOT NULL,
  UNIQUE (tenant_id, day)
);

CREATE TABLE epcs_review_items (
  id uuid PRIMARY KEY,
  review_id uuid NOT NULL REFERENCES epcs_reviews (id),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  seq bigint NOT NULL,
  category text NOT NULL,
  action text NOT NULL,
  outcome text NOT NULL,
  at timestamptz NOT NULL,
  actor_user_id text,
  decision text CHECK (decision IN ('incident', 'not_incident')),
  decided_by text,
  decided_at timestamptz,
  note text CHECK (length(note) <= 1000),
  UNIQUE (review_id, seq),
  CHECK ((decision IS NULL) = (decided_by IS NULL) AND (decision IS NULL) = (decided_at IS NULL))
);

-- Reports are kept as produced; an item changes once, from undecided to decided, and then never.
CREATE FUNCTION epcs_review_item_guard() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR OLD.decision IS NOT NULL
     OR (NEW.id, NEW.review_id, NEW.tenant_id, NEW.seq, NEW.category, NEW.action, NEW.outcome,
         NEW.at, NEW.actor_user_id)
        IS DISTINCT FROM
        (OLD.id, OLD.review_id, OLD.tenant_id, OLD.seq, OLD.category, OLD.action, OLD.outcome,
         OLD.at, OLD.actor_user_id) THEN
    RAISE EXCEPTION 'epcs review items are immutable once decided' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER epcs_review_items_guard BEFORE UPDATE OR DELETE ON epcs_review_items
  FOR EACH ROW EXECUTE FUNCTION epcs_review_item_guard();
CREATE FUNCTION epcs_review_reject_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'epcs reviews are immutable' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER epcs_reviews_no_change BEFORE UPDATE OR DELETE ON epcs_reviews
  FOR EACH ROW EXECUTE FUNCTION epcs_review_reject_change();

-- Row-level security ---------------------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['monitoring_rules', 'monitoring_cursors', 'monitoring_window_events',
                           'alerts', 'alert_deliveries', 'epcs_reviews', 'epcs_review_items'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY backup_read ON %I FOR SELECT TO CURRENT_USER USING (scrip_backup_reader())', t);
    -- A tenant's rows in its context; platform rows (tenant_id NULL) only outside any tenant.
    EXECUTE format('CREATE POLICY tenant_scope ON %I USING (tenant_id IS NOT DISTINCT FROM scrip_current_tenant()) WITH CHECK (tenant_id IS NOT DISTINCT FROM scrip_current_tenant())', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON monitoring_rules TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON monitoring_cursors TO scrip_app;
GRANT SELECT, INSERT, DELETE ON monitoring_window_events TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON alerts TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON alert_deliveries TO scrip_app;
GRANT SELECT, INSERT ON epcs_reviews TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON epcs_review_items TO scrip_app;
