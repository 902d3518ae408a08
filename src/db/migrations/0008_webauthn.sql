-- WebAuthn (W3C Web Authentication Level 3): passkeys and security keys, and the single-use
-- challenges of their ceremonies.
--
-- A credential belongs to its user's HOME tenant, like the TOTP secret (0005): only the home
-- tenant's context reads or changes it, so only that tenant's administrators can revoke it. The
-- public key is not a secret (it verifies, never signs); the credential id is an opaque handle the
-- authenticator chose. Before a tenant is known (passkey sign-in) one narrow SECURITY DEFINER
-- function maps a credential id to its home tenant.
--
-- Challenges are stored as SHA-256 only (the client returns the challenge inside clientDataJSON;
-- its hash finds the row), live at most five minutes, and are consumed by one compare-and-set
-- UPDATE, so a challenge verifies at most one ceremony. A sign-in challenge exists before any
-- tenant is known: it is a platform row (tenant_id NULL), visible only outside a tenant context.

CREATE TABLE webauthn_credentials (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  credential_id bytea NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 16 AND 1023),
  -- COSE_Key (RFC 9052 §7) as the authenticator returned it.
  public_key bytea NOT NULL CHECK (length(public_key) BETWEEN 16 AND 2048),
  -- §6.1.1 signature counter: a value not above the stored one (when either is non-zero) is a
  -- possible cloned authenticator and is refused.
  sign_count bigint NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
  transports text[] NOT NULL DEFAULT '{}',
  aaguid uuid NOT NULL,
  attestation_format text NOT NULL CHECK (length(attestation_format) BETWEEN 1 AND 32),
  -- §6.1 flags BE and BS: may be synced (multi-device), and is currently backed up.
  backup_eligible boolean NOT NULL,
  backed_up boolean NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid REFERENCES users (id),
  revoke_reason text CHECK (revoke_reason IS NULL OR revoke_reason IN ('user', 'admin')),
  CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (tenant_id, user_id)
  WHERE revoked_at IS NULL;

CREATE TABLE webauthn_challenges (
  id uuid PRIMARY KEY,
  -- NULL for a sign-in challenge (no tenant yet); the session's tenant otherwise.
  tenant_id uuid REFERENCES tenants (id),
  purpose text NOT NULL CHECK (purpose IN ('register', 'login', 'stepup')),
  challenge_hash bytea NOT NULL UNIQUE CHECK (length(challenge_hash) = 32),
  user_id uuid REFERENCES users (id),
  session_id uuid REFERENCES sessions (id),
  -- The action a step-up is for.
  action text CHECK (action IS NULL OR action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  consumed_at timestamptz,
  CHECK (expires_at > created_at AND expires_at <= created_at + interval '5 minutes'),
  CHECK ((purpose = 'login') = (tenant_id IS NULL)),
  CHECK (purpose = 'login' OR (user_id IS NOT NULL AND session_id IS NOT NULL)),
  CHECK ((purpose = 'stepup') = (action IS NOT NULL))
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);

ALTER TABLE webauthn_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE webauthn_credentials FORCE ROW LEVEL SECURITY;
ALTER TABLE webauthn_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE webauthn_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY backup_read ON webauthn_credentials FOR SELECT TO CURRENT_USER USING (scrip_backup_reader());
CREATE POLICY backup_read ON webauthn_challenges FOR SELECT TO CURRENT_USER USING (scrip_backup_reader());
CREATE POLICY tenant_isolation ON webauthn_credentials
  USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant());
-- A tenant context sees its own challenges; outside any tenant, only the sign-in ones.
CREATE POLICY tenant_isolation ON webauthn_challenges
  USING (tenant_id IS NOT DISTINCT FROM scrip_current_tenant())
  WITH CHECK (tenant_id IS NOT DISTINCT FROM scrip_current_tenant());

DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_identity ON webauthn_credentials FOR SELECT TO %I USING (true)', current_user);
END $$;

-- The home tenant of the (unrevoked) credential with this id: what passkey sign-in needs before
-- it knows a tenant, and nothing else.
CREATE FUNCTION scrip_webauthn_credential_tenant(p_credential_id bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.webauthn_credentials
         WHERE credential_id = p_credential_id AND revoked_at IS NULL $$;
REVOKE ALL ON FUNCTION scrip_webauthn_credential_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_webauthn_credential_tenant(bytea) TO scrip_app;

GRANT SELECT, INSERT, UPDATE ON webauthn_credentials TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON webauthn_challenges TO scrip_app;
