-- Prescriber identity proofing (21 CFR 1311.105, NIST SP 800-63A IAL2), the binding of
-- second-factor credentials to the proofed identity (1311.110/1311.115: the credential is issued
-- after proofing), and the two-person EPCS logical access control (21 CFR 1311.125).
--
-- The authoritative registry (NPPES, DEA CSA, state boards) is operator-loaded reference data:
-- a signed file (src/identity/registry-file.ts) whose records are stored here as platform rows
-- (tenant_id NULL). It holds no PHI (public registry data about practitioners).

-- One row per verified registry file; `source` and `issued_at` refuse a replay of an older file
-- of the same source (a revoked registration cannot be brought back by re-importing).
CREATE TABLE registry_imports (
  id uuid PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  source text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9:._-]{0,63}$'),
  issued_at timestamptz NOT NULL,
  file_sha256 text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  signer_kid text NOT NULL,
  records integer NOT NULL CHECK (records >= 0),
  imported_at timestamptz NOT NULL,
  UNIQUE (source, issued_at)
);

CREATE TABLE registry_records (
  kind text NOT NULL CHECK (kind IN ('npi', 'dea', 'licence')),
  -- npi: the NPI; dea: the DEA number (upper case); licence: '<STATE>:<number>' (upper case).
  record_key text NOT NULL CHECK (length(record_key) BETWEEN 1 AND 80),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  source text NOT NULL,
  import_id uuid NOT NULL REFERENCES registry_imports (id),
  data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
  PRIMARY KEY (kind, record_key)
);

-- One proofing of one user in one tenant; a new proofing supersedes the active one.
CREATE TABLE identity_proofings (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  npi text NOT NULL CHECK (npi ~ '^[12][0-9]{9}$'),
  ial text NOT NULL CHECK (ial IN ('IAL2')),
  -- [{ "type": "drivers_licence", "reference": "..." }]: document type and reference, no images.
  evidence jsonb NOT NULL CHECK (jsonb_typeof(evidence) = 'array' AND jsonb_array_length(evidence) >= 1),
  proofed_by uuid NOT NULL REFERENCES users (id),
  proofed_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
  CHECK (proofed_by <> user_id)
);
CREATE UNIQUE INDEX identity_proofings_active ON identity_proofings (tenant_id, user_id)
  WHERE status = 'active';

CREATE TABLE proofing_dea_registrations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  proofing_id uuid NOT NULL REFERENCES identity_proofings (id),
  dea_number text NOT NULL CHECK (dea_number ~ '^[A-Z][A-Z9][0-9]{7}$'),
  schedules text[] NOT NULL CHECK (cardinality(schedules) >= 1
    AND schedules <@ ARRAY['2', '2N', '3', '3N', '4', '5']),
  state text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
  expires_on date NOT NULL,
  expiring_notified_at timestamptz,
  expired_notified_at timestamptz,
  UNIQUE (proofing_id, dea_number)
);

CREATE TABLE proofing_licences (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  proofing_id uuid NOT NULL REFERENCES identity_proofings (id),
  state text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
  licence_number text NOT NULL CHECK (length(licence_number) BETWEEN 1 AND 40),
  expires_on date NOT NULL,
  expiring_notified_at timestamptz,
  expired_notified_at timestamptz,
  UNIQUE (proofing_id, state, licence_number)
);

-- A second-factor credential bound to a proofing: only credentials enrolled at or after the
-- proofing qualify. The credential tables belong to MFA/WebAuthn; this table refers to them by
-- type and id and keeps the credential's enrolment time, so they need no change.
CREATE TABLE proofing_credential_bindings (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  proofing_id uuid NOT NULL REFERENCES identity_proofings (id),
  user_id uuid NOT NULL REFERENCES users (id),
  credential_type text NOT NULL CHECK (credential_type IN ('totp', 'webauthn')),
  credential_id text NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 200),
  credential_enrolled_at timestamptz NOT NULL,
  bound_at timestamptz NOT NULL,
  UNIQUE (proofing_id, credential_type, credential_id)
);

-- 21 CFR 1311.125: one person enters a grant or revocation, a second (a DEA registrant, with
-- two-factor authentication) approves it. The approving step-up is recorded and used once.
CREATE TABLE epcs_permission_requests (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  prescriber_id uuid NOT NULL REFERENCES users (id),
  change text NOT NULL CHECK (change IN ('grant', 'revoke')),
  requested_by uuid NOT NULL REFERENCES users (id),
  requested_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved')),
  approved_by uuid REFERENCES users (id),
  approved_at timestamptz,
  approval_step_up uuid UNIQUE REFERENCES step_ups (id),
  CHECK (expires_at > requested_at),
  CHECK ((status = 'approved') = (approved_by IS NOT NULL AND approved_at IS NOT NULL
                                  AND approval_step_up IS NOT NULL)),
  CHECK (approved_by IS NULL OR approved_by <> requested_by)
);
CREATE INDEX epcs_permission_requests_pending ON epcs_permission_requests (tenant_id, prescriber_id)
  WHERE status = 'pending';

-- The current permission of each prescriber (absent: never granted).
CREATE TABLE epcs_permissions (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  granted boolean NOT NULL,
  request_id uuid NOT NULL REFERENCES epcs_permission_requests (id),
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);

-- Row-level security ---------------------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['registry_imports', 'registry_records', 'identity_proofings',
                           'proofing_dea_registrations', 'proofing_licences',
                           'proofing_credential_bindings', 'epcs_permission_requests',
                           'epcs_permissions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY backup_read ON %I FOR SELECT TO CURRENT_USER USING (scrip_backup_reader())', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['identity_proofings', 'proofing_dea_registrations', 'proofing_licences',
                           'proofing_credential_bindings', 'epcs_permission_requests',
                           'epcs_permissions'] LOOP
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant())', t);
  END LOOP;
  -- Registry data: written only outside any tenant (the import), read from anywhere (public
  -- reference data, looked up while proofing inside a tenant).
  FOREACH t IN ARRAY ARRAY['registry_imports', 'registry_records'] LOOP
    EXECUTE format('CREATE POLICY reference_read ON %I FOR SELECT USING (true)', t);
    EXECUTE format('CREATE POLICY platform_insert ON %I FOR INSERT WITH CHECK (scrip_current_tenant() IS NULL)', t);
    EXECUTE format('CREATE POLICY platform_update ON %I FOR UPDATE USING (scrip_current_tenant() IS NULL) WITH CHECK (scrip_current_tenant() IS NULL)', t);
  END LOOP;
  EXECUTE format('CREATE POLICY owner_proofing ON identity_proofings FOR SELECT TO %I USING (true)', current_user);
END $$;

-- The tenants holding active proofings (ids only), for the platform-wide expiry check.
CREATE FUNCTION scrip_proofing_tenants() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT DISTINCT tenant_id FROM public.identity_proofings WHERE status = 'active' ORDER BY 1 $$;
REVOKE ALL ON FUNCTION scrip_proofing_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_proofing_tenants() TO scrip_app;

GRANT SELECT, INSERT ON registry_imports TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON registry_records TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON identity_proofings TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON proofing_dea_registrations TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON proofing_licences TO scrip_app;
GRANT SELECT, INSERT ON proofing_credential_bindings TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON epcs_permission_requests TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON epcs_permissions TO scrip_app;

-- The user's confirmed TOTP credential (id and enrolment time only, never the secret), answered
-- only for a member of the current tenant: the credential lives in the user's home tenant, the
-- binding in the tenant that proofed them. The owner (this function) may read mfa_totp in full.
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_proofing ON mfa_totp FOR SELECT TO %I USING (true)', current_user);
END $$;
CREATE FUNCTION scrip_user_totp(p_user uuid) RETURNS TABLE (id uuid, confirmed_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT t.id, t.confirmed_at FROM public.mfa_totp t
         WHERE t.user_id = p_user AND t.confirmed_at IS NOT NULL
           AND EXISTS (SELECT 1 FROM public.memberships m
                        WHERE m.user_id = p_user AND m.tenant_id = scrip_current_tenant()) $$;
REVOKE ALL ON FUNCTION scrip_user_totp(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_user_totp(uuid) TO scrip_app;
