-- Identity: users, tenant memberships, invitations, the one-time bootstrap link, TOTP, recovery
-- codes, sessions with step-up records, and login throttling.
--
-- Users are global (one account, one email, one password, one TOTP) and join tenants through
-- memberships. Each user row still carries tenant_id: the user's HOME tenant (the one that invited
-- or bootstrapped them). The home tenant owns the credentials: the TOTP secret is sealed with the
-- home tenant's data key, recovery codes are keyed with its blind-index key, and only the home
-- tenant's context may insert or update the user row. Consequence (documented): shredding a home
-- tenant destroys its users' TOTP secrets; they must re-enrol to reach any other tenant.
--
-- Visibility for the application role:
--  * a tenant context sees the users that are members of it (or whose home it is), never others;
--  * before a tenant is known (login by email, a session cookie, an invitation or bootstrap
--    token) narrow SECURITY DEFINER functions answer only what that step needs: the login lookup
--    returns id, home tenant, hash and status for one email; the token lookups map the SHA-256 of
--    a secret token to a tenant id (knowing the hash needs the token, so nothing is enumerable).
-- No secret is stored in clear: passwords as Argon2id, tokens as SHA-256, recovery codes as HMAC,
-- the TOTP secret encrypted (AES-256-GCM, AAD bound to tenant/table/column/row).

CREATE TABLE users (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' in email) > 1),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  created_at timestamptz NOT NULL,
  last_login_at timestamptz
);
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));

CREATE TABLE memberships (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  email text NOT NULL,
  roles text[] NOT NULL,
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by uuid REFERENCES users (id)
);

-- The first tenant and administrator: a platform row (tenant_id always NULL). The application
-- role has no privilege on it at all; it goes through the three functions below.
CREATE TABLE bootstrap_tokens (
  token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);

CREATE TABLE mfa_totp (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL UNIQUE REFERENCES users (id),
  dek_version integer NOT NULL,
  secret bytea NOT NULL,
  confirmed_at timestamptz,
  -- RFC 6238 §5.2: the last accepted time step; a code is accepted only for a later step
  -- (compare-and-set on this column).
  last_step bigint,
  created_at timestamptz NOT NULL
);
CREATE INDEX mfa_totp_dek_version ON mfa_totp (tenant_id, dek_version, id);
CREATE TRIGGER mfa_totp_data_key BEFORE INSERT OR UPDATE OF dek_version ON mfa_totp
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

CREATE TABLE recovery_codes (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id) WHERE used_at IS NULL;

CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  kind text NOT NULL CHECK (kind IN ('cookie', 'bearer')),
  -- A bearer token belongs to the cookie session that issued it and ends with it.
  parent_id uuid REFERENCES sessions (id),
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  csrf_hash bytea CHECK (csrf_hash IS NULL OR length(csrf_hash) = 32),
  -- An enrolment-only session (password verified, no second factor enrolled yet).
  restricted boolean NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  idle_expires_at timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoke_reason text,
  CHECK ((kind = 'bearer') = (parent_id IS NOT NULL)),
  CHECK (idle_expires_at <= absolute_expires_at)
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_parent ON sessions (parent_id) WHERE parent_id IS NOT NULL;

-- A fresh second factor for one named action (21 CFR 1311.120(b)(11) style step-up); single use.
CREATE TABLE step_ups (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  session_id uuid NOT NULL REFERENCES sessions (id),
  action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  verified_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz
);
CREATE INDEX step_ups_session ON step_ups (session_id, action) WHERE consumed_at IS NULL;

-- Failed-login counters per account (keyed by a hash of the normalised email, so unknown and
-- known accounts are throttled alike) and per source address. Platform rows (tenant_id NULL).
CREATE TABLE login_throttle (
  key text PRIMARY KEY CHECK (key ~ '^(acct|ip|user):[0-9A-Za-z:._-]{1,100}$'),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  failures integer NOT NULL DEFAULT 0,
  last_failure_at timestamptz,
  locked_until timestamptz
);

-- Row-level security ---------------------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'memberships', 'invitations', 'bootstrap_tokens', 'mfa_totp',
                           'recovery_codes', 'sessions', 'step_ups', 'login_throttle'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY backup_read ON %I FOR SELECT TO CURRENT_USER USING (scrip_backup_reader())', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['memberships', 'invitations', 'mfa_totp', 'recovery_codes', 'sessions', 'step_ups'] LOOP
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant())', t);
  END LOOP;
END $$;

-- Users: visible to their home tenant and to tenants they are members of (memberships is itself
-- filtered to the current tenant, so the subquery cannot reach other tenants); written only in
-- the home tenant's context.
CREATE POLICY tenant_read ON users FOR SELECT
  USING (tenant_id = scrip_current_tenant()
         OR EXISTS (SELECT 1 FROM memberships m
                     WHERE m.user_id = users.id AND m.tenant_id = scrip_current_tenant()));
CREATE POLICY home_insert ON users FOR INSERT WITH CHECK (tenant_id = scrip_current_tenant());
CREATE POLICY home_update ON users FOR UPDATE
  USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant());

CREATE POLICY platform_only ON login_throttle
  USING (scrip_current_tenant() IS NULL) WITH CHECK (scrip_current_tenant() IS NULL);

-- The SECURITY DEFINER functions below run as the owner, which FORCE also filters: let the owner
-- reach these tables in full. The application role is unaffected.
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_identity ON users FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY owner_identity ON memberships FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY owner_identity ON invitations FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY owner_identity ON sessions FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY owner_all ON bootstrap_tokens TO %I USING (true) WITH CHECK (true)', current_user);
END $$;

-- Narrow pre-tenant lookups ---------------------------------------------------------------------

-- What login needs for one email (case-insensitive): nothing else about the user.
CREATE FUNCTION scrip_login_lookup(p_email text)
  RETURNS TABLE (user_id uuid, home_tenant uuid, password_hash text, status text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT id, tenant_id, password_hash, status FROM public.users WHERE lower(email) = lower(p_email) $$;

-- The tenants a user belongs to (tenant choice at login, sign out everywhere): ids only.
CREATE FUNCTION scrip_user_tenants(p_user uuid) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.memberships WHERE user_id = p_user ORDER BY tenant_id $$;

-- The tenant of the session whose token hashes to p_hash.
CREATE FUNCTION scrip_session_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.sessions WHERE token_hash = p_hash $$;

-- The tenant of the invitation whose token hashes to p_hash.
CREATE FUNCTION scrip_invitation_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.invitations WHERE token_hash = p_hash $$;

-- True while no user exists: `scrip serve` then offers a bootstrap link.
CREATE FUNCTION scrip_bootstrap_needed() RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT NOT EXISTS (SELECT 1 FROM public.users) $$;

-- A new bootstrap link replaces every unused one; refused once a user exists.
CREATE FUNCTION scrip_bootstrap_issue(p_hash bytea, p_now timestamptz, p_expires timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('scrip-bootstrap'));
  IF EXISTS (SELECT 1 FROM public.users) THEN RETURN false; END IF;
  DELETE FROM public.bootstrap_tokens WHERE used_at IS NULL;
  INSERT INTO public.bootstrap_tokens (token_hash, created_at, expires_at) VALUES (p_hash, p_now, p_expires);
  RETURN true;
END $$;

-- Single use: marks the token used if it is unused, unexpired, and no user exists yet. The lock
-- serialises concurrent attempts until the caller's transaction (which creates the user) ends.
CREATE FUNCTION scrip_bootstrap_consume(p_hash bytea, p_now timestamptz) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('scrip-bootstrap'));
  IF EXISTS (SELECT 1 FROM public.users) THEN RETURN false; END IF;
  UPDATE public.bootstrap_tokens SET used_at = p_now
   WHERE token_hash = p_hash AND used_at IS NULL AND expires_at > p_now;
  RETURN FOUND;
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['scrip_login_lookup(text)', 'scrip_user_tenants(uuid)',
                           'scrip_session_tenant(bytea)', 'scrip_invitation_tenant(bytea)',
                           'scrip_bootstrap_needed()',
                           'scrip_bootstrap_issue(bytea, timestamptz, timestamptz)',
                           'scrip_bootstrap_consume(bytea, timestamptz)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO scrip_app', f);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON users TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON invitations TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_totp TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON sessions TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON step_ups TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON login_throttle TO scrip_app;
