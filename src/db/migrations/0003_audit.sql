-- Tamper-evident audit log (45 CFR 164.312(b)): one global, gap-free order of records across all
-- tenants and server processes, each record's RFC 9162 §2.1.1 leaf hash SHA-256(0x00 ‖ record)
-- in a hash chain (chain_n = SHA-256(chain_{n-1} ‖ leaf_n), chain_{-1} = 32 zero bytes) and in a
-- Merkle tree whose perfect-subtree hashes are stored for O(log n) proofs; signed C2SP
-- tlog-checkpoints commit to the tree.
--
-- Writes go only through SECURITY DEFINER functions owned by the owner role:
--   audit_reserve()        takes the global append lock (transaction-scoped advisory lock) and
--                          returns the next seq and the previous chain hash;
--   audit_append(record)   re-takes the lock (re-entrant), checks that the canonical record text
--                          the application built (RFC 8785 JCS) carries exactly that seq and
--                          prevHash, computes leaf and chain hashes itself, derives the
--                          structured columns from the same text and inserts.
-- The lock is held until the caller's transaction ends, so seq is assigned in commit order: a
-- rolled-back append leaves no row and no gap, and no two transactions can claim one seq.
-- The application role can SELECT its tenant's rows (RLS), and nothing else on the tables;
-- triggers reject UPDATE, DELETE and TRUNCATE even for the owner. What a superuser can still do
-- is caught by the verifier (src/audit/audit-verify.ts) and by signed checkpoints.

CREATE TABLE audit_log (
  seq bigint PRIMARY KEY CHECK (seq >= 0),
  time timestamptz NOT NULL,
  db_time timestamptz NOT NULL DEFAULT clock_timestamp(),
  tenant_id uuid,
  actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'system', 'cli')),
  actor_user_id text,
  actor_role text,
  actor_session_id text,
  action text NOT NULL CHECK (length(action) <= 100 AND action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  subjects jsonb NOT NULL CHECK (jsonb_typeof(subjects) = 'array'),
  source_ip text,
  user_agent text,
  request_id text,
  reason text,
  details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object'),
  prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
  record text NOT NULL CHECK (octet_length(record) <= 65536),
  leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
  chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32)
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

-- Perfect-subtree hashes (level 0 = leaves), written only through audit_nodes_add, which checks
-- each against the log; tenant_id is always NULL (platform table).
CREATE TABLE audit_merkle_nodes (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED,
  PRIMARY KEY (level, idx)
);

CREATE TABLE audit_checkpoints (
  tree_size bigint PRIMARY KEY CHECK (tree_size > 0),
  root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
  origin text NOT NULL,
  note text NOT NULL,
  key_id text NOT NULL,
  created_at timestamptz NOT NULL,
  db_time timestamptz NOT NULL DEFAULT clock_timestamp(),
  tenant_id uuid GENERATED ALWAYS AS (NULL::uuid) STORED
);

-- Append-only, even for the owner (a superuser can still disable triggers; the verifier catches it).
CREATE FUNCTION audit_reject_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_log', 'audit_merkle_nodes', 'audit_checkpoints'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit_reject_change()', t || '_no_change', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()', t || '_no_truncate', t);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    -- The SECURITY DEFINER functions below run as the owner, which FORCE subjects to policies.
    EXECUTE format('CREATE POLICY owner_all ON %I TO %I USING (true) WITH CHECK (true)', t, current_user);
  END LOOP;
END $$;

-- A tenant reads its own records; platform records (tenant_id NULL) only outside tenant context.
CREATE POLICY tenant_read ON audit_log FOR SELECT TO scrip_app
  USING (tenant_id IS NOT DISTINCT FROM scrip_current_tenant());
-- Tree nodes and signed checkpoints carry no tenant data and are meant to be published.
CREATE POLICY public_read ON audit_merkle_nodes FOR SELECT TO scrip_app USING (true);
CREATE POLICY public_read ON audit_checkpoints FOR SELECT TO scrip_app USING (true);
GRANT SELECT ON audit_log, audit_merkle_nodes, audit_checkpoints TO scrip_app;

-- Appends need READ COMMITTED: each statement after the lock must see the previous commit.
CREATE FUNCTION audit_lock_append() RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'audit append requires READ COMMITTED isolation' USING ERRCODE = '25001';
  END IF;
  PERFORM pg_advisory_xact_lock(8314615134238635364); -- 'scripaud'
END $$;
REVOKE ALL ON FUNCTION audit_lock_append() FROM PUBLIC;

CREATE FUNCTION audit_reserve(OUT next_seq bigint, OUT prev_hash bytea, OUT db_time timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM public.audit_lock_append();
  SELECT a.seq + 1, a.chain_hash INTO next_seq, prev_hash
    FROM public.audit_log a ORDER BY a.seq DESC LIMIT 1;
  IF next_seq IS NULL THEN
    next_seq := 0;
    prev_hash := decode(repeat('00', 32), 'hex');
  END IF;
  db_time := clock_timestamp();
END $$;

CREATE FUNCTION audit_text_or_null(v jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$ SELECT v IS NOT NULL AND jsonb_typeof(v) IN ('string', 'null') $$;

CREATE FUNCTION audit_append(p_record text)
  RETURNS TABLE (seq bigint, leaf_hash bytea, chain_hash bytea)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  r jsonb;
  v_seq bigint;
  v_prev bytea;
  v_leaf bytea;
  v_tenant uuid;
BEGIN
  SELECT t.next_seq, t.prev_hash INTO v_seq, v_prev FROM public.audit_reserve() t;
  BEGIN
    r := p_record::jsonb;
  EXCEPTION WHEN others THEN
    RAISE EXCEPTION 'audit record is not JSON' USING ERRCODE = '22023';
  END;
  IF jsonb_typeof(r) <> 'object' THEN
    RAISE EXCEPTION 'audit record is not a JSON object' USING ERRCODE = '22023';
  END IF;
  IF coalesce((SELECT count(*) FROM jsonb_object_keys(r)) <> 13
     OR NOT r ?& ARRAY['v', 'seq', 'time', 'tenantId', 'actor', 'action', 'outcome', 'subjects',
                       'source', 'requestId', 'reason', 'details', 'prevHash']
     OR r->'v' <> '1'::jsonb
     OR jsonb_typeof(r->'actor') <> 'object'
     OR (SELECT count(*) FROM jsonb_object_keys(r->'actor')) <> 4
     OR NOT (r->'actor') ?& ARRAY['kind', 'userId', 'role', 'sessionId']
     OR jsonb_typeof(r->'source') <> 'object'
     OR (SELECT count(*) FROM jsonb_object_keys(r->'source')) <> 2
     OR NOT (r->'source') ?& ARRAY['ip', 'userAgent']
     OR NOT (audit_text_or_null(r->'tenantId') AND audit_text_or_null(r->'requestId')
             AND audit_text_or_null(r->'reason') AND audit_text_or_null(r->'actor'->'userId')
             AND audit_text_or_null(r->'actor'->'role') AND audit_text_or_null(r->'actor'->'sessionId')
             AND audit_text_or_null(r->'source'->'ip') AND audit_text_or_null(r->'source'->'userAgent'))
     OR jsonb_typeof(r->'time') <> 'string'
     OR r->>'time' !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$', true)
  THEN
    RAISE EXCEPTION 'audit record does not have the expected shape' USING ERRCODE = '22023';
  END IF;
  IF r->'seq' <> to_jsonb(v_seq) OR r->>'prevHash' IS DISTINCT FROM encode(v_prev, 'hex') THEN
    RAISE EXCEPTION 'audit record seq/prevHash do not match the log head; call audit_reserve() in the same transaction'
      USING ERRCODE = '40001';
  END IF;
  v_tenant := (r->>'tenantId')::uuid;
  IF v_tenant IS NOT NULL AND scrip_current_tenant() IS NOT NULL
     AND v_tenant <> scrip_current_tenant() THEN
    RAISE EXCEPTION 'audit record is for another tenant' USING ERRCODE = '42501';
  END IF;
  v_leaf := sha256('\x00'::bytea || convert_to(p_record, 'UTF8'));
  INSERT INTO public.audit_log (seq, time, tenant_id, actor_kind, actor_user_id, actor_role,
      actor_session_id, action, outcome, subjects, source_ip, user_agent, request_id, reason,
      details, prev_hash, record, leaf_hash, chain_hash)
    VALUES (v_seq, (r->>'time')::timestamptz, v_tenant, r->'actor'->>'kind', r->'actor'->>'userId',
      r->'actor'->>'role', r->'actor'->>'sessionId', r->>'action', r->>'outcome', r->'subjects',
      r->'source'->>'ip', r->'source'->>'userAgent', r->>'requestId', r->>'reason', r->'details',
      v_prev, p_record, v_leaf, sha256(v_prev || v_leaf));
  RETURN QUERY SELECT v_seq, v_leaf, sha256(v_prev || v_leaf);
END $$;

-- Number of records by the highest seq (a gap is the verifier's business, not this one's).
CREATE FUNCTION audit_head() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT coalesce(max(seq) + 1, 0) FROM public.audit_log $$;

-- Every stored record in [p_from, p_to), all tenants: for the verifier and for proofs. Audit
-- records hold no PHI, by contract (src/audit/audit-record.ts).
CREATE FUNCTION audit_records_range(p_from bigint, p_to bigint)
  RETURNS SETOF audit_log
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF p_to - p_from > 10000 THEN
    RAISE EXCEPTION 'audit_records_range: at most 10000 records per call' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY SELECT * FROM public.audit_log a WHERE a.seq >= p_from AND a.seq < p_to ORDER BY a.seq;
END $$;

CREATE FUNCTION audit_leaf_hashes(p_from bigint, p_to bigint)
  RETURNS TABLE (seq bigint, leaf_hash bytea)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF p_to - p_from > 10000 THEN
    RAISE EXCEPTION 'audit_leaf_hashes: at most 10000 records per call' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY SELECT a.seq, a.leaf_hash FROM public.audit_log a
    WHERE a.seq >= p_from AND a.seq < p_to ORDER BY a.seq;
END $$;

-- Stores Merkle nodes in order (children before parents), each checked against the log: a leaf
-- against audit_log.leaf_hash, an interior node against SHA-256(0x01 ‖ left ‖ right) of stored
-- children (RFC 9162 §2.1.1). So the node table can only hold hashes the log implies.
CREATE FUNCTION audit_nodes_add(p_levels integer[], p_idx bigint[], p_hashes bytea[])
  RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  n integer := coalesce(array_length(p_levels, 1), 0);
  expected bytea;
  l bytea;
  r bytea;
BEGIN
  IF n <> coalesce(array_length(p_idx, 1), 0) OR n <> coalesce(array_length(p_hashes, 1), 0) THEN
    RAISE EXCEPTION 'audit_nodes_add: arrays differ in length' USING ERRCODE = '22023';
  END IF;
  FOR i IN 1..n LOOP
    IF p_levels[i] = 0 THEN
      SELECT a.leaf_hash INTO expected FROM public.audit_log a WHERE a.seq = p_idx[i];
    ELSE
      SELECT m.hash INTO l FROM public.audit_merkle_nodes m
        WHERE m.level = p_levels[i] - 1 AND m.idx = 2 * p_idx[i];
      SELECT m.hash INTO r FROM public.audit_merkle_nodes m
        WHERE m.level = p_levels[i] - 1 AND m.idx = 2 * p_idx[i] + 1;
      expected := sha256('\x01'::bytea || l || r);
    END IF;
    IF expected IS NULL OR expected <> p_hashes[i] THEN
      RAISE EXCEPTION 'audit node (%, %) does not match the log', p_levels[i], p_idx[i]
        USING ERRCODE = '23514';
    END IF;
    INSERT INTO public.audit_merkle_nodes (level, idx, hash)
      VALUES (p_levels[i], p_idx[i], p_hashes[i]) ON CONFLICT DO NOTHING;
  END LOOP;
  RETURN n;
END $$;

-- RFC 9162 §2.1.1 MTH(D[0:size]) from stored nodes: the perfect subtrees of size's binary
-- decomposition (largest first), folded right to left. NULL when a node is missing.
CREATE FUNCTION audit_root_from_nodes(p_size bigint) RETURNS bytea
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $$
DECLARE
  hashes bytea[] := ARRAY[]::bytea[];
  start bigint := 0;
  h bytea;
BEGIN
  FOR lvl IN REVERSE 62..0 LOOP
    IF (p_size >> lvl) & 1 = 1 THEN
      SELECT m.hash INTO h FROM public.audit_merkle_nodes m WHERE m.level = lvl AND m.idx = start >> lvl;
      IF h IS NULL THEN RETURN NULL; END IF;
      hashes := hashes || h;
      start := start + (1::bigint << lvl);
    END IF;
  END LOOP;
  IF array_length(hashes, 1) IS NULL THEN RETURN sha256(''::bytea); END IF;
  h := hashes[array_length(hashes, 1)];
  FOR i IN REVERSE array_length(hashes, 1) - 1..1 LOOP
    h := sha256('\x01'::bytea || hashes[i] || h);
  END LOOP;
  RETURN h;
END $$;
REVOKE ALL ON FUNCTION audit_root_from_nodes(bigint) FROM PUBLIC;

-- Stores a signed checkpoint after checking that it is newer than the last one, within the log,
-- that its root is the one the stored nodes give, and that the note text states that origin,
-- size and root (C2SP tlog-checkpoint). The signature itself is checked by the verifier.
CREATE FUNCTION audit_checkpoint_add(p_size bigint, p_root bytea, p_origin text, p_note text,
    p_key_id text, p_created_at timestamptz)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(8314615134238763888); -- 'scripckp'
  IF p_size <= coalesce((SELECT max(c.tree_size) FROM public.audit_checkpoints c), 0)
     OR p_size > public.audit_head() THEN
    RAISE EXCEPTION 'checkpoint size % is not past the last checkpoint and within the log', p_size
      USING ERRCODE = '23514';
  END IF;
  IF public.audit_root_from_nodes(p_size) IS DISTINCT FROM p_root THEN
    RAISE EXCEPTION 'checkpoint root does not match the stored tree' USING ERRCODE = '23514';
  END IF;
  IF split_part(p_note, E'\n', 1) <> p_origin OR split_part(p_note, E'\n', 2) <> p_size::text
     OR split_part(p_note, E'\n', 3) <> encode(p_root, 'base64') THEN
    RAISE EXCEPTION 'checkpoint note does not state this origin, size and root' USING ERRCODE = '23514';
  END IF;
  INSERT INTO public.audit_checkpoints (tree_size, root_hash, origin, note, key_id, created_at)
    VALUES (p_size, p_root, p_origin, p_note, p_key_id, p_created_at);
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['audit_reserve()', 'audit_append(text)', 'audit_head()',
      'audit_records_range(bigint, bigint)', 'audit_leaf_hashes(bigint, bigint)',
      'audit_nodes_add(integer[], bigint[], bytea[])',
      'audit_checkpoint_add(bigint, bytea, text, text, text, timestamptz)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO scrip_app', f);
  END LOOP;
END $$;
