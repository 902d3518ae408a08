-- Backups (src/db/snapshot.ts): let the owner read every tenant's rows for a consistent export,
-- without BYPASSRLS (only a superuser may grant it) and without ALTER TABLE ... NO FORCE ROW
-- LEVEL SECURITY (an ACCESS EXCLUSIVE lock on every table for the length of the backup).
--
-- Each table with FORCE ROW LEVEL SECURITY gets a permissive SELECT policy for its owner only,
-- true only while scrip_backup_reader() holds: the owner's own session opted in with
-- SET LOCAL scrip.backup_reader = 'on'. Two guards keep it from widening access:
--  * TO <owner>: the policy is not even added to the application role's queries (no plan cost,
--    no new path); scrip_server is never a member of the owner (roles.ts refuses to serve then).
--  * session_user must be a member of current_user: inside a SECURITY DEFINER function owned by
--    the owner but called by the application (current_user = owner, session_user = app), the
--    setting the application may have set is ignored.
-- So the only principal that gains anything is the owner, who could already disable RLS; its
-- ordinary statements (migrations, maintenance) stay confined by FORCE unless it opts in.
--
-- Every later table with FORCE ROW LEVEL SECURITY needs the same policy in its migration:
--   CREATE POLICY backup_read ON <table> FOR SELECT TO CURRENT_USER USING (scrip_backup_reader());
-- `scrip backup` refuses (naming the table) when one is missing.

CREATE FUNCTION scrip_backup_reader() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT current_setting('scrip.backup_reader', true) = 'on'
          AND pg_has_role(session_user, current_user, 'MEMBER') $$;
REVOKE ALL ON FUNCTION scrip_backup_reader() FROM PUBLIC;

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.relname, pg_get_userbyid(c.relowner) AS owner
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace
       AND c.relkind IN ('r', 'p')
       AND c.relforcerowsecurity
     ORDER BY c.relname
  LOOP
    EXECUTE format(
      'CREATE POLICY backup_read ON public.%I FOR SELECT TO %I USING (scrip_backup_reader())',
      t.relname, t.owner);
  END LOOP;
END
$$;
