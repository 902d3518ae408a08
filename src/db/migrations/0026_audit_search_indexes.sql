-- Indexes for the audit search (src/audit/audit-search.ts, 45 CFR 164.308(a)(1)(ii)(D) activity
-- review). The search adds an explicit `tenant_id = $n` to its WHERE clause: the row-level
-- security predicate (`tenant_id IS NOT DISTINCT FROM scrip_current_tenant()`) cannot use an
-- index, so without it every search scanned the whole log, newest first, across all tenants.
-- Results come newest first (ORDER BY seq DESC), hence seq as the last column where a filter is
-- an equality.
--
-- Operators: CREATE INDEX takes a SHARE lock on audit_log for the build, and appends wait for it.
-- On a large log, build them beforehand with CREATE INDEX CONCURRENTLY under these names (the
-- IF NOT EXISTS below then skips them) — docs/audit.md.
CREATE INDEX IF NOT EXISTS audit_log_tenant_time ON audit_log (tenant_id, time);
CREATE INDEX IF NOT EXISTS audit_log_tenant_actor ON audit_log (tenant_id, actor_user_id, seq);
CREATE INDEX IF NOT EXISTS audit_log_tenant_action ON audit_log (tenant_id, action, seq);
-- Patient (and any subject) filters: `subjects @> '[{"type":"patient","id":…}]'`.
CREATE INDEX IF NOT EXISTS audit_log_subjects ON audit_log USING gin (subjects jsonb_path_ops);
