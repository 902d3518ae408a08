-- Write-once export bookkeeping for the audit log (src/audit/segment-exporter.ts): which sealed
-- segments (records [from, to) + the signed checkpoint at `to`) and which witness copies of
-- checkpoints were written to which export target, with their SHA-256 digests. Retention
-- (45 CFR 164.316(b)(2)(i)) and pruning plans read it; `scrip audit witness-check` compares it.
--
-- Append-only like the audit tables (0003): triggers refuse UPDATE, DELETE and TRUNCATE even for
-- the owner, and the application role writes only through audit_export_add(), which checks each
-- row against the stored checkpoints (root and contiguity) so the table can only claim exports
-- of segments the log actually has. tenant_id is always NULL (platform table).

CREATE TABLE audit_exports (
  target text NOT NULL CHECK (length(target) BETWEEN 1 AND 1000),
  kind text NOT NULL CHECK (kind IN ('segment', 'witness')),
  tree_size bigint NOT NULL CHECK (tree_size > 0),
  from_size bigint NOT NULL CHECK (from_size >= 0 AND from_size <= tree_size),
  object_name text NOT NULL CHECK (length(object_name) BETWEEN 1 AND 1000),
  sha256 bytea NOT NULL CHECK (length(sha256) = 32),
  records_sha256 bytea CHECK (records_sha256 IS NULL OR length(records_sha256) = 32),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  exported_at timestamptz NOT NULL,
  db_time timestamptz NOT NULL DEFAULT clock_timestamp(),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  PRIMARY KEY (target, kind, tree_size),
  CHECK ((kind = 'segment') = (records_sha256 IS NOT NULL)),
  CHECK (kind = 'segment' OR from_size = tree_size)
);

CREATE TRIGGER audit_exports_no_change BEFORE UPDATE OR DELETE ON audit_exports
  FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_exports_no_truncate BEFORE TRUNCATE ON audit_exports
  FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

ALTER TABLE audit_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_exports FORCE ROW LEVEL SECURITY;
-- audit_export_add() runs as the owner, which FORCE subjects to policies (as in 0003).
CREATE POLICY owner_all ON audit_exports TO CURRENT_USER USING (true) WITH CHECK (true);
-- Digests and object names of published checkpoints carry no tenant data.
CREATE POLICY public_read ON audit_exports FOR SELECT TO scrip_app USING (true);
-- Rule of 0004_backup.sql for every table with FORCE ROW LEVEL SECURITY.
CREATE POLICY backup_read ON audit_exports FOR SELECT TO CURRENT_USER USING (scrip_backup_reader());
GRANT SELECT ON audit_exports TO scrip_app;

-- Records one export. A segment must start where this target's previous segment ended (0 for
-- the first), at a checkpoint size, and end at a checkpoint whose root is p_root; a witness row
-- names one checkpoint. Re-recording an identical row is a no-op (a re-run after a crash); a
-- different row for the same (target, kind, size) is refused.
CREATE FUNCTION audit_export_add(p_target text, p_kind text, p_from bigint, p_size bigint,
    p_object text, p_sha256 bytea, p_records_sha256 bytea, p_root bytea, p_exported_at timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  prev public.audit_exports;
  expected_from bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(8314615134238898288); -- 'scripexp'
  SELECT * INTO prev FROM public.audit_exports e
    WHERE e.target = p_target AND e.kind = p_kind AND e.tree_size = p_size;
  IF FOUND THEN
    IF prev.from_size = p_from AND prev.object_name = p_object AND prev.sha256 = p_sha256
       AND prev.records_sha256 IS NOT DISTINCT FROM p_records_sha256 AND prev.root_hash = p_root THEN
      RETURN false;
    END IF;
    RAISE EXCEPTION 'audit export of size % to this target was already recorded differently', p_size
      USING ERRCODE = '23505';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM public.audit_checkpoints c
                  WHERE c.tree_size = p_size AND c.root_hash = p_root) THEN
    RAISE EXCEPTION 'audit export names no stored checkpoint of size % with that root', p_size
      USING ERRCODE = '23514';
  END IF;
  IF p_kind = 'segment' THEN
    SELECT coalesce(max(e.tree_size), 0) INTO expected_from FROM public.audit_exports e
      WHERE e.target = p_target AND e.kind = 'segment';
    IF p_from <> expected_from OR p_from >= p_size
       OR (p_from > 0 AND NOT EXISTS (SELECT 1 FROM public.audit_checkpoints c WHERE c.tree_size = p_from)) THEN
      RAISE EXCEPTION 'audit export segment [%, %) does not continue this target''s exports at %',
        p_from, p_size, expected_from USING ERRCODE = '23514';
    END IF;
  END IF;
  INSERT INTO public.audit_exports (target, kind, tree_size, from_size, object_name, sha256,
      records_sha256, root_hash, exported_at)
    VALUES (p_target, p_kind, p_size, p_from, p_object, p_sha256, p_records_sha256, p_root,
      p_exported_at);
  RETURN true;
END $$;
REVOKE ALL ON FUNCTION audit_export_add(text, text, bigint, bigint, text, bytea, bytea, bytea, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_export_add(text, text, bigint, bigint, text, bytea, bytea, bytea, timestamptz) TO scrip_app;
