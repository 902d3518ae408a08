-- Key management (envelope encryption) and the first PHI table.
-- Data keys are stored only wrapped by the KEK (key provider); a destroyed key keeps its row
-- (history) with wrapped = NULL. PHI columns hold field-cipher blobs (AES-256-GCM, AAD bound to
-- tenant, table, column and row id); equality search goes through blind-index columns.

-- The SECURITY DEFINER functions below run as the owner, which FORCE ROW LEVEL SECURITY also
-- filters: let the owner (the role running this migration) read these two tables in full. The
-- application role is unaffected; the functions expose only ids and counts.
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_platform_read ON tenants FOR SELECT TO %I USING (true)', current_user);
END $$;

-- Tenant ids alone, for platform jobs that visit every tenant (KEK re-wrap, key status). Returns
-- no other column; everything else stays behind RLS.
CREATE FUNCTION scrip_tenant_ids() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT id FROM public.tenants ORDER BY id $$;
REVOKE ALL ON FUNCTION scrip_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_tenant_ids() TO scrip_app;

CREATE TABLE tenant_keys (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  purpose text NOT NULL CHECK (purpose IN ('field', 'index')),
  version integer NOT NULL CHECK (version >= 1),
  wrapped bytea,
  kek_version integer,
  status text NOT NULL CHECK (status IN ('active', 'retired', 'destroyed')),
  usage_reserved bigint NOT NULL DEFAULT 0 CHECK (usage_reserved >= 0),
  created_at timestamptz NOT NULL,
  retired_at timestamptz,
  destroyed_at timestamptz,
  PRIMARY KEY (tenant_id, purpose, version),
  CHECK ((status = 'destroyed') = (wrapped IS NULL)),
  CHECK (wrapped IS NULL OR kek_version IS NOT NULL)
);
-- At most one active key per tenant and purpose.
CREATE UNIQUE INDEX tenant_keys_one_active ON tenant_keys (tenant_id, purpose) WHERE status = 'active';

-- For /readyz: how many active data keys (any tenant) are older than the policy allows.
CREATE FUNCTION scrip_overdue_data_keys(max_age_days integer) RETURNS integer
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT count(*)::int FROM public.tenant_keys
        WHERE purpose = 'field' AND status = 'active' AND created_at < now() - make_interval(days => max_age_days) $$;
REVOKE ALL ON FUNCTION scrip_overdue_data_keys(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_overdue_data_keys(integer) TO scrip_app;

CREATE TABLE reencryption_jobs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  to_version integer NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done')),
  rows_total integer NOT NULL DEFAULT 0,
  rows_done integer NOT NULL DEFAULT 0,
  cursor_table text,
  cursor_id uuid,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE UNIQUE INDEX reencryption_jobs_one_running ON reencryption_jobs (tenant_id) WHERE status = 'running';

-- Dual control (two security administrators) for KEK rotation, key destruction and shredding.
-- Platform-wide requests have no tenant; tenant_id is then NULL and only platform readers see them.
CREATE TABLE key_requests (
  id uuid PRIMARY KEY,
  tenant_id uuid REFERENCES tenants (id),
  operation text NOT NULL CHECK (operation IN ('rotate_kek', 'destroy_kek_version', 'shred_tenant')),
  params jsonb NOT NULL DEFAULT '{}',
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'executed', 'failed', 'rejected')),
  decided_by text,
  decided_at timestamptz,
  outcome text,
  CHECK (decided_by IS NULL OR decided_by <> requested_by)
);

-- Public keys are published from the provider; this records which one signs now.
CREATE TABLE signing_keys (
  key_id text PRIMARY KEY,
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  purpose text NOT NULL DEFAULT 'platform' CHECK (purpose = 'platform'),
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  created_at timestamptz NOT NULL,
  retired_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE status = 'active';

CREATE TABLE patients (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  dek_version integer NOT NULL,
  given_name bytea NOT NULL,
  family_name bytea NOT NULL,
  birth_date bytea NOT NULL,
  mrn bytea,
  phone bytea,
  address bytea,
  identifiers bytea,
  bi_name_dob text NOT NULL,
  bi_mrn text,
  bi_phone text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX patients_bi_name_dob ON patients (tenant_id, bi_name_dob);
CREATE INDEX patients_bi_mrn ON patients (tenant_id, bi_mrn) WHERE bi_mrn IS NOT NULL;
CREATE INDEX patients_bi_phone ON patients (tenant_id, bi_phone) WHERE bi_phone IS NOT NULL;
CREATE INDEX patients_dek_version ON patients (tenant_id, dek_version, id);

-- Every write of encrypted columns names its data key version. Checked in the database, under
-- the tenant's key lock in shared mode: a key is destroyed only under the same lock held
-- exclusively (after re-encryption or shredding), so no row can commit under a destroyed key,
-- whatever a process may still hold in its cache.
CREATE FUNCTION scrip_check_data_key() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('scrip-dek:' || NEW.tenant_id::text));
  IF NOT EXISTS (SELECT 1 FROM tenant_keys k
                  WHERE k.tenant_id = NEW.tenant_id AND k.purpose = 'field'
                    AND k.version = NEW.dek_version AND k.status <> 'destroyed') THEN
    RAISE EXCEPTION 'data key version % is not usable', NEW.dek_version USING ERRCODE = 'SK001';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER patients_data_key BEFORE INSERT OR UPDATE OF dek_version ON patients
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_keys', 'reencryption_jobs', 'patients'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant())', t);
  END LOOP;
END $$;

DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_platform_read ON tenant_keys FOR SELECT TO %I USING (true)', current_user);
END $$;

-- Key requests: a tenant's own requests in its context; platform requests (tenant_id NULL) only
-- outside any tenant context.
ALTER TABLE key_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE key_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON key_requests
  USING (tenant_id IS NOT DISTINCT FROM scrip_current_tenant())
  WITH CHECK (tenant_id IS NOT DISTINCT FROM scrip_current_tenant());

-- Signing keys are platform-wide (tenant_id always NULL): visible outside tenant context only.
ALTER TABLE signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON signing_keys
  USING (scrip_current_tenant() IS NULL) WITH CHECK (scrip_current_tenant() IS NULL);

GRANT SELECT, INSERT, UPDATE ON tenant_keys TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON reencryption_jobs TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON key_requests TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON signing_keys TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON patients TO scrip_app;
