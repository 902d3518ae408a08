-- Home-realm discovery for single sign-on: which tenant's identity provider serves an email domain.
--
-- The platform operator maps a domain to a tenant (`scrip sso domains add`), after verifying out of
-- band that the tenant's organisation owns the domain. Tenant administrators cannot: otherwise one
-- tenant could claim another clinic's domain and send that clinic's users to a hostile IdP. A
-- domain names at most one tenant in the whole installation (the primary key), is lower-case, and
-- has hostname syntax (RFC 1123 §2.1 labels, at least two of them, at most 253 characters).
CREATE TABLE sso_domains (
  domain text PRIMARY KEY CHECK (
    length(domain) <= 253
    AND domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
  ),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  created_at timestamptz NOT NULL,
  created_by text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 100)
);
CREATE INDEX sso_domains_tenant ON sso_domains (tenant_id);

SELECT scrip_protect_tenant_table('sso_domains'::regclass);
-- The SECURITY DEFINER lookup below runs as the owner, which FORCE also filters.
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_sso_domains ON sso_domains FOR SELECT TO %I USING (true)', current_user);
END $$;

-- The tenant an email domain belongs to, for the public discovery step of the sign-in page (it
-- knows no tenant yet). Answers for one exact domain only: nothing is listed.
CREATE FUNCTION scrip_sso_domain_tenant(p_domain text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.sso_domains WHERE domain = p_domain $$;
REVOKE ALL ON FUNCTION scrip_sso_domain_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_sso_domain_tenant(text) TO scrip_app;

GRANT SELECT, INSERT, DELETE ON sso_domains TO scrip_app;
