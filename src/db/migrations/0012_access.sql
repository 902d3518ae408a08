-- Access control (45 CFR 164.308(a)(4), 164.312(a)(1) including the emergency access procedure;
-- the Minimum Necessary standard 164.502(b); OWASP ASVS V4): versioned role catalogs, care-team
-- relationships, time-boxed grants, break-glass sessions, context policies and trusted devices.

-- Tenant tables get the same two policies everywhere: the tenant's rows in its context, platform
-- rows (tenant_id NULL) only outside any tenant, and the backup reader. One function, so a later
-- migration cannot forget one of them.
CREATE FUNCTION scrip_protect_tenant_table(t regclass) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
  EXECUTE format('CREATE POLICY backup_read ON %s FOR SELECT TO CURRENT_USER USING (scrip_backup_reader())', t);
  EXECUTE format('CREATE POLICY tenant_scope ON %s USING (tenant_id IS NOT DISTINCT FROM scrip_current_tenant()) WITH CHECK (tenant_id IS NOT DISTINCT FROM scrip_current_tenant())', t);
END $$;
REVOKE ALL ON FUNCTION scrip_protect_tenant_table(regclass) FROM PUBLIC;

-- Role catalogs are data: each change is a proposal that a second person approves; the newest
-- approved version is in force (version 0, the built-in catalog, applies until then).
CREATE TABLE role_catalog_versions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  version integer NOT NULL CHECK (version > 0),
  catalog jsonb NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  status text NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
  proposed_by uuid NOT NULL REFERENCES users (id),
  proposed_at timestamptz NOT NULL,
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  CHECK (decided_by IS NULL OR decided_by <> proposed_by),
  UNIQUE (tenant_id, version)
);

-- Care-team membership: the relationship that lets a clinician see a patient.
CREATE TABLE care_team (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  user_id uuid NOT NULL REFERENCES users (id),
  relation text NOT NULL CHECK (relation ~ '^[a-z_]{1,40}$'),
  added_by uuid REFERENCES users (id),
  added_at timestamptz NOT NULL,
  ended_at timestamptz,
  PRIMARY KEY (tenant_id, patient_id, user_id, added_at)
);
CREATE UNIQUE INDEX care_team_active ON care_team (tenant_id, patient_id, user_id)
  WHERE ended_at IS NULL;
CREATE INDEX care_team_user ON care_team (tenant_id, user_id) WHERE ended_at IS NULL;

-- Just-in-time grants: requested by one user, decided by another, expiring by themselves.
CREATE TABLE access_grants (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  patient_id uuid REFERENCES patients (id),
  permissions text[] NOT NULL CHECK (cardinality(permissions) BETWEEN 1 AND 20),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 10080),
  status text NOT NULL CHECK (status IN ('requested', 'approved', 'denied', 'revoked', 'withdrawn')),
  requested_at timestamptz NOT NULL,
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  decision_reason text,
  starts_at timestamptz,
  expires_at timestamptz,
  CHECK (decided_by IS NULL OR decided_by <> user_id),
  CHECK (status <> 'approved' OR (starts_at IS NOT NULL AND expires_at > starts_at))
);
CREATE INDEX access_grants_user ON access_grants (tenant_id, user_id, status);

-- Break-glass (164.312(a)(2)(ii) emergency access): reason, time box, review by someone else.
CREATE TABLE break_glass_sessions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  session_id uuid NOT NULL,
  patient_id uuid NOT NULL REFERENCES patients (id),
  category text NOT NULL CHECK (category ~ '^[a-z_]{1,40}$'),
  reason text NOT NULL CHECK (length(reason) BETWEEN 10 AND 2000),
  write_allowed boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL CHECK (expires_at > started_at),
  ended_at timestamptz,
  review_status text NOT NULL DEFAULT 'open' CHECK (review_status IN ('open', 'closed')),
  reviewed_by uuid REFERENCES users (id),
  reviewed_at timestamptz,
  review_outcome text CHECK (review_outcome IN ('justified', 'unjustified')),
  review_notes text,
  CHECK (reviewed_by IS NULL OR reviewed_by <> user_id)
);
CREATE INDEX break_glass_active ON break_glass_sessions (tenant_id, user_id, patient_id, expires_at);
CREATE INDEX break_glass_review ON break_glass_sessions (tenant_id, review_status, started_at);

-- Context policy (networks, device posture, hours per role), versioned; the newest is in force.
CREATE TABLE context_policy_versions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  version integer NOT NULL CHECK (version > 0),
  policy jsonb NOT NULL,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, version)
);

-- Trusted devices: a registered device gets a cookie whose SHA-256 is kept here.
CREATE TABLE trusted_devices (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  label text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
  registered_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX trusted_devices_user ON trusted_devices (tenant_id, user_id);

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['role_catalog_versions', 'care_team', 'access_grants', 'break_glass_sessions',
                    'context_policy_versions', 'trusted_devices']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON role_catalog_versions TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON care_team TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON access_grants TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON break_glass_sessions TO scrip_app;
GRANT SELECT, INSERT ON context_policy_versions TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON trusted_devices TO scrip_app;
