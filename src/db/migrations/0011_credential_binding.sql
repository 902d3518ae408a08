-- Credentials bound to the proofed identity (21 CFR 1311.110, 1311.115): a user may re-enrol TOTP
-- (a pending secret beside the confirmed one until its first code confirms it, then it replaces
-- the old one in one transaction), and a WebAuthn passkey may be bound to the proofing as well.

-- At most one confirmed and one pending TOTP secret per user (was: one row per user).
ALTER TABLE mfa_totp DROP CONSTRAINT mfa_totp_user_id_key;
CREATE UNIQUE INDEX mfa_totp_confirmed ON mfa_totp (user_id) WHERE confirmed_at IS NOT NULL;
CREATE UNIQUE INDEX mfa_totp_pending ON mfa_totp (user_id) WHERE confirmed_at IS NULL;

-- The user's unrevoked passkeys (id and registration time only, never key material), answered
-- only for a member of the current tenant: the credential lives in the user's home tenant, the
-- binding in the tenant that proofed them (as scrip_user_totp in 0010).
CREATE FUNCTION scrip_user_webauthn(p_user uuid) RETURNS TABLE (id uuid, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT w.id, w.created_at FROM public.webauthn_credentials w
         WHERE w.user_id = p_user AND w.revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM public.memberships m
                        WHERE m.user_id = p_user AND m.tenant_id = scrip_current_tenant()) $$;
REVOKE ALL ON FUNCTION scrip_user_webauthn(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_user_webauthn(uuid) TO scrip_app;
