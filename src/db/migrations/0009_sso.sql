-- Single sign-on with OpenID Connect (authorization code + PKCE): each tenant's identity provider,
-- the links between an IdP identity (issuer + subject) and a Scrip user, and the short-lived login
-- transactions (state, nonce, PKCE verifier) kept server-side.
--
--  * sso_providers: one IdP per tenant. The client secret is sealed with the tenant's data key
--    (AES-256-GCM, AAD bound to tenant/table/column/row), like mfa_totp.secret. Issuer and
--    redirect URI must be https (OpenID Connect Discovery 1.0 §4.3; RFC 6749 §3.1.2.1).
--  * sso_links: (tenant, issuer, subject) names at most one user, and a user has at most one
--    link per issuer in a tenant. A link in one tenant signs in to that tenant only.
--  * sso_transactions: one row per authorization request, found by the SHA-256 of `state`,
--    consumed once (compare-and-set on consumed_at), expiring within 10 minutes. The PKCE
--    code_verifier (RFC 7636) is sealed; the row is bound to the browser that started it by the
--    SHA-256 of a cookie. When the IdP did not prove MFA the tenant trusts, the same row carries
--    the pending second-factor step (SHA-256 of a pending token, single use, short-lived).

CREATE TABLE sso_providers (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL UNIQUE REFERENCES tenants (id),
  issuer text NOT NULL CHECK (issuer ~ '^https://' AND length(issuer) <= 500),
  client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
  dek_version integer NOT NULL,
  client_secret bytea NOT NULL,
  redirect_uri text NOT NULL CHECK (redirect_uri ~ '^https://' AND length(redirect_uri) <= 500),
  allow_auto_create boolean NOT NULL DEFAULT false,
  default_role text NOT NULL DEFAULT 'staff' CHECK (default_role ~ '^[a-z_]{1,50}$'),
  trust_idp_mfa boolean NOT NULL DEFAULT false,
  trusted_amr text[] NOT NULL DEFAULT '{}',
  trusted_acr text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK (NOT trust_idp_mfa OR cardinality(trusted_amr) + cardinality(trusted_acr) > 0)
);
CREATE INDEX sso_providers_dek_version ON sso_providers (tenant_id, dek_version, id);
CREATE TRIGGER sso_providers_data_key BEFORE INSERT OR UPDATE OF dek_version ON sso_providers
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

CREATE TABLE sso_links (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  issuer text NOT NULL CHECK (length(issuer) <= 500),
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  created_at timestamptz NOT NULL,
  last_login_at timestamptz,
  UNIQUE (tenant_id, issuer, subject),
  UNIQUE (tenant_id, user_id, issuer)
);

CREATE TABLE sso_transactions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  state_hash bytea NOT NULL UNIQUE CHECK (length(state_hash) = 32),
  browser_hash bytea NOT NULL CHECK (length(browser_hash) = 32),
  nonce text NOT NULL CHECK (length(nonce) BETWEEN 22 AND 128),
  dek_version integer NOT NULL,
  code_verifier bytea NOT NULL,
  -- Linking an IdP identity to a signed-in user (no session is issued by such a transaction).
  link_user_id uuid REFERENCES users (id),
  link_session_id uuid REFERENCES sessions (id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  pending_hash bytea UNIQUE CHECK (pending_hash IS NULL OR length(pending_hash) = 32),
  pending_user_id uuid REFERENCES users (id),
  pending_expires_at timestamptz,
  pending_done_at timestamptz,
  CHECK (expires_at <= created_at + interval '10 minutes'),
  CHECK (pending_expires_at IS NULL OR pending_expires_at <= created_at + interval '20 minutes'),
  CHECK ((link_user_id IS NULL) = (link_session_id IS NULL))
);
CREATE INDEX sso_transactions_expiry ON sso_transactions (tenant_id, expires_at);
CREATE INDEX sso_transactions_dek_version ON sso_transactions (tenant_id, dek_version, id);
CREATE TRIGGER sso_transactions_data_key BEFORE INSERT OR UPDATE OF dek_version ON sso_transactions
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sso_providers', 'sso_links', 'sso_transactions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY backup_read ON %I FOR SELECT TO CURRENT_USER USING (scrip_backup_reader())', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant())', t);
  END LOOP;
  -- The SECURITY DEFINER lookup below runs as the owner, which FORCE also filters.
  EXECUTE format('CREATE POLICY owner_sso ON sso_transactions FOR SELECT TO %I USING (true)', current_user);
END $$;

-- The tenant of the SSO transaction whose state (or pending second-factor token) hashes to
-- p_hash: the callback and the second-factor step know no tenant before it. Knowing the hash
-- needs the token, so nothing is enumerable.
CREATE FUNCTION scrip_sso_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.sso_transactions WHERE state_hash = p_hash OR pending_hash = p_hash $$;
REVOKE ALL ON FUNCTION scrip_sso_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_sso_tenant(bytea) TO scrip_app;

GRANT SELECT, INSERT, UPDATE ON sso_providers TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_links TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_transactions TO scrip_app;
