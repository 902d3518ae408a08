-- Foundation: tenancy from the first table.
-- Every tenant-owned table carries tenant_id and a row-level security policy keyed on the
-- per-transaction setting scrip.tenant_id (set with set_config(..., true) by db/transaction.ts).
-- The application role (scrip_app, granted to the server's login role) owns nothing and is
-- never BYPASSRLS; FORCE ROW LEVEL SECURITY applies the policies to the owner too.

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO scrip_app;

-- The tenant of the current transaction, or NULL (which matches no row) when unset.
CREATE FUNCTION scrip_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('scrip.tenant_id', true), '')::uuid $$;

-- Read-only view of migration history for /readyz (the app role cannot read scrip_migrations).
CREATE FUNCTION scrip_migration_history()
  RETURNS TABLE (version integer, name text, checksum text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT version, name, checksum FROM public.scrip_migrations ORDER BY version $$;
REVOKE ALL ON FUNCTION scrip_migration_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_migration_history() TO scrip_app;

CREATE TABLE tenants (
  id uuid PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (id) STORED UNIQUE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind text NOT NULL DEFAULT 'clinic' CHECK (kind IN ('clinic', 'pharmacy', 'platform')),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'shredded')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_settings (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_.]{0,99}$'),
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = scrip_current_tenant()) WITH CHECK (id = scrip_current_tenant());

ALTER TABLE tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_settings
  USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant());

GRANT SELECT, INSERT, UPDATE ON tenants TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_settings TO scrip_app;
