-- Access operations (45 CFR 164.308(a)(3)(ii)(B)-(C) workforce clearance and termination,
-- 164.308(a)(4)(ii)(C) access modification, 164.312(a)(2)(ii) emergency access; OWASP ASVS V4):
-- who ended a just-in-time grant early, and access-review (recertification) campaigns whose
-- results are kept as evidence.

-- A grant withdrawn by its requester or revoked by an approver records who ended it and when
-- (decided_by keeps the approver; the CHECK on it forbids self-approval).
ALTER TABLE access_grants
  ADD COLUMN ended_by uuid REFERENCES users (id),
  ADD COLUMN ended_at timestamptz,
  ADD CHECK ((ended_by IS NULL) = (ended_at IS NULL)),
  ADD CHECK (status NOT IN ('revoked', 'withdrawn') OR ended_at IS NOT NULL);

-- A campaign: scope (every membership of the tenant, or those holding selected roles), the
-- reviewers, a due date. Opening it snapshots the items; closing it applies the revocations and
-- freezes everything (see the triggers below).
CREATE TABLE access_review_campaigns (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  scope text NOT NULL CHECK (scope IN ('all', 'roles')),
  scope_roles text[] NOT NULL DEFAULT '{}',
  reviewers uuid[] NOT NULL CHECK (cardinality(reviewers) BETWEEN 1 AND 20),
  due_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('draft', 'open', 'closed')),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL,
  opened_by uuid REFERENCES users (id),
  opened_at timestamptz,
  escalated_at timestamptz,
  closed_by uuid REFERENCES users (id),
  closed_at timestamptz,
  -- Items still undecided when the campaign was closed (reported, never silently dropped).
  unreviewed_at_close integer CHECK (unreviewed_at_close >= 0),
  CHECK ((scope = 'roles') = (cardinality(scope_roles) > 0)),
  CHECK (status = 'draft' OR opened_at IS NOT NULL),
  CHECK ((status = 'closed') = (closed_at IS NOT NULL AND unreviewed_at_close IS NOT NULL))
);
CREATE INDEX access_review_campaigns_status ON access_review_campaigns (tenant_id, status, due_at);

-- One item per membership in scope at opening: the roles under review, the reviewer's decision,
-- and what closing did with it.
CREATE TABLE access_review_items (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  campaign_id uuid NOT NULL REFERENCES access_review_campaigns (id),
  user_id uuid NOT NULL REFERENCES users (id),
  roles text[] NOT NULL,
  decision text CHECK (decision IN ('keep', 'revoke')),
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  note text CHECK (length(note) <= 1000),
  outcome text CHECK (outcome IN ('kept', 'revoked', 'unreviewed', 'already_gone')),
  applied_at timestamptz,
  -- Nobody attests their own access (separation of duties); the service refuses first.
  CHECK (decided_by IS NULL OR decided_by <> user_id),
  CHECK ((decision IS NULL) = (decided_by IS NULL) AND (decided_by IS NULL) = (decided_at IS NULL)),
  UNIQUE (campaign_id, user_id)
);
CREATE INDEX access_review_items_campaign ON access_review_items (tenant_id, campaign_id);

-- Evidence is immutable once the campaign is closed: no update of a closed campaign or of its
-- items, for any role (the application has no DELETE on either table).
CREATE FUNCTION scrip_access_review_frozen() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE closed boolean;
BEGIN
  IF TG_TABLE_NAME = 'access_review_campaigns' THEN
    closed := OLD.status = 'closed';
  ELSE
    SELECT c.status = 'closed' INTO closed FROM public.access_review_campaigns c
     WHERE c.id = OLD.campaign_id;
  END IF;
  IF closed THEN
    RAISE EXCEPTION 'access review % is closed and kept as evidence', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER access_review_campaigns_frozen BEFORE UPDATE OR DELETE ON access_review_campaigns
  FOR EACH ROW EXECUTE FUNCTION scrip_access_review_frozen();
CREATE TRIGGER access_review_items_frozen BEFORE UPDATE OR DELETE ON access_review_items
  FOR EACH ROW EXECUTE FUNCTION scrip_access_review_frozen();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['access_review_campaigns', 'access_review_items']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON access_review_campaigns TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON access_review_items TO scrip_app;
