-- Pharmacy side of the network (issue 8 item 6; 21 CFR 1311.205, 1311.210): a pharmacy tenant's
-- own pharmacies (NCPDP IDs) and their staff, the prescriber systems it trusts (their JWKS,
-- registered out of band), the archive of every SCRIPT message it accepted with the digital
-- signature as received, the inbox of received prescriptions and the pharmacist's actions.
--
-- PHI is sealed by the application (row cipher, AAD bound to tenant, table, column and row): the
-- received XML, the JWS (its payload is the signed prescription) and the action details. What
-- stays clear is what the queries and the state machine need: ids, sender network id, MessageID,
-- status, DEA schedule, verification result and key id, timestamps.

-- The tenant's pharmacies (the Header To value, qualifier P, the network routes to this tenant).
-- An NCPDP ID belongs to one tenant of the installation, so the dispatcher's To -> tenant mapping
-- is never ambiguous.
CREATE TABLE pharmacy_locations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  ncpdp_id text NOT NULL UNIQUE CHECK (ncpdp_id ~ '^[0-9]{7}$'),
  npi text CHECK (npi ~ '^[12][0-9]{9}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 70),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (tenant_id, id)
);

-- Staff of each pharmacy: the relationship that opens its inbox (issue 5 point 2).
CREATE TABLE pharmacy_members (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  pharmacy_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id),
  added_by uuid REFERENCES users (id),
  added_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, pharmacy_id, user_id),
  FOREIGN KEY (tenant_id, pharmacy_id) REFERENCES pharmacy_locations (tenant_id, id)
);
CREATE INDEX pharmacy_members_user ON pharmacy_members (tenant_id, user_id);

-- Prescriber systems whose prescriptions this tenant accepts: network id (Header From, qualifier
-- D) and the public JWKS their prescription-signing keys are published in. Public keys, not PHI.
CREATE TABLE pharmacy_trusted_senders (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  sender_id text NOT NULL CHECK (sender_id ~ '^[A-Za-z0-9._:-]{1,35}$'),
  jwks jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, sender_id)
);

-- The received prescriptions (NewRx) and their state:
--   status        received -> accepted -> partially_dispensed -> dispensed; cancelled;
--   cancel_status none | requested | approved | denied (a CancelRx from the prescriber);
--   signature     verified (the prescriber system's ES256 JWS verified and matched the XML) or
--                 unsigned (a non-controlled NewRx that claimed no digital signature).
CREATE TABLE pharmacy_inbox (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  pharmacy_id uuid NOT NULL,
  sender_id text NOT NULL,
  message_id text NOT NULL,
  prescriber_order_number text,
  dea_schedule text CHECK (dea_schedule IN ('CI', 'CII', 'CIII', 'CIV', 'CV')),
  status text NOT NULL CHECK (status IN ('received', 'accepted', 'partially_dispensed',
                                         'dispensed', 'cancelled')),
  cancel_status text NOT NULL DEFAULT 'none'
    CHECK (cancel_status IN ('none', 'requested', 'approved', 'denied')),
  signature text NOT NULL CHECK (signature IN ('verified', 'unsigned')),
  key_id text,
  verified_at timestamptz,
  received_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  status_changed_at timestamptz NOT NULL,
  CHECK ((signature = 'verified') = (key_id IS NOT NULL AND verified_at IS NOT NULL)),
  CHECK (status <> 'cancelled' OR cancel_status = 'approved'),
  UNIQUE (tenant_id, sender_id, message_id),
  FOREIGN KEY (tenant_id, pharmacy_id) REFERENCES pharmacy_locations (tenant_id, id)
);
CREATE INDEX pharmacy_inbox_list ON pharmacy_inbox (tenant_id, pharmacy_id, received_at DESC);
-- One prescription (the prescriber system's order number, which a signed NewRx binds to the
-- signed document id) is received once: a replay under a new MessageID must not be filled twice.
CREATE UNIQUE INDEX pharmacy_inbox_order ON pharmacy_inbox (tenant_id, sender_id, prescriber_order_number)
  WHERE prescriber_order_number IS NOT NULL;

-- The archive (1311.205(b)(4), 1311.210): every message the pharmacy accepted, as received: the
-- XML and the JWS (sealed), the verification result, and the answer given (a Status or Error
-- without PHI, kept so that a repeated MessageID gets the same answer). One row per
-- (sender, MessageID): the receiver processes a MessageID once, even if the transport did not
-- deduplicate. Rejected messages are not stored (their refusal is audited).
CREATE TABLE pharmacy_inbound (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  -- Deferred: the archive row is written first, so a repeated MessageID stops before anything else.
  inbox_id uuid NOT NULL REFERENCES pharmacy_inbox (id) DEFERRABLE INITIALLY DEFERRED,
  sender_id text NOT NULL,
  message_id text NOT NULL,
  message_type text NOT NULL CHECK (message_type IN ('NewRx', 'CancelRx')),
  signature text NOT NULL CHECK (signature IN ('verified', 'unsigned')),
  key_id text,
  verified_at timestamptz,
  answer_xml text NOT NULL,
  dek_version integer NOT NULL,
  xml bytea NOT NULL,
  jws bytea,
  received_at timestamptz NOT NULL,
  UNIQUE (tenant_id, sender_id, message_id)
);
CREATE INDEX pharmacy_inbound_inbox ON pharmacy_inbound (tenant_id, inbox_id);
CREATE INDEX pharmacy_inbound_dek_version ON pharmacy_inbound (tenant_id, dek_version, id);

-- 1311.210: the archived record never changes; only re-encryption under a newer data key may
-- rewrite the sealed columns (same plaintext).
CREATE FUNCTION scrip_pharmacy_inbound_immutable() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF NEW.id IS DISTINCT FROM OLD.id OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
     OR NEW.inbox_id IS DISTINCT FROM OLD.inbox_id OR NEW.sender_id IS DISTINCT FROM OLD.sender_id
     OR NEW.message_id IS DISTINCT FROM OLD.message_id
     OR NEW.message_type IS DISTINCT FROM OLD.message_type
     OR NEW.signature IS DISTINCT FROM OLD.signature OR NEW.key_id IS DISTINCT FROM OLD.key_id
     OR NEW.verified_at IS DISTINCT FROM OLD.verified_at
     OR NEW.answer_xml IS DISTINCT FROM OLD.answer_xml
     OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR ((NEW.xml IS DISTINCT FROM OLD.xml OR NEW.jws IS DISTINCT FROM OLD.jws)
         AND NEW.dek_version <= OLD.dek_version) THEN
    RAISE EXCEPTION 'an archived pharmacy message cannot be changed' USING ERRCODE = 'SK010';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER pharmacy_inbound_immutable BEFORE UPDATE ON pharmacy_inbound
  FOR EACH ROW EXECUTE FUNCTION scrip_pharmacy_inbound_immutable();
CREATE TRIGGER pharmacy_inbound_data_key BEFORE INSERT OR UPDATE OF dek_version ON pharmacy_inbound
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

-- The pharmacist's actions on a received prescription and the SCRIPT message each one sent
-- (accept -> Status, fill -> RxFill, cancel_response -> CancelRxResponse, renewal_request,
-- change_request); `detail` is sealed JSON (quantities, notes, reasons).
CREATE TABLE pharmacy_actions (
  id uuid PRIMARY KEY,
  -- Order of the actions on one prescription (several may share a timestamp).
  seq bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  inbox_id uuid NOT NULL REFERENCES pharmacy_inbox (id),
  kind text NOT NULL CHECK (kind IN ('accept', 'fill', 'cancel_response', 'renewal_request',
                                     'change_request')),
  message_id text NOT NULL,
  actor_id uuid NOT NULL REFERENCES users (id),
  dek_version integer NOT NULL,
  detail bytea NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (tenant_id, message_id)
);
CREATE INDEX pharmacy_actions_inbox ON pharmacy_actions (tenant_id, inbox_id, created_at);
CREATE INDEX pharmacy_actions_dek_version ON pharmacy_actions (tenant_id, dek_version, id);
CREATE TRIGGER pharmacy_actions_data_key BEFORE INSERT OR UPDATE OF dek_version ON pharmacy_actions
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['pharmacy_locations', 'pharmacy_members', 'pharmacy_trusted_senders',
                    'pharmacy_inbox', 'pharmacy_inbound', 'pharmacy_actions']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE ON pharmacy_locations TO scrip_app;
GRANT SELECT, INSERT, DELETE ON pharmacy_members TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON pharmacy_trusted_senders TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON pharmacy_inbox TO scrip_app;
-- UPDATE only for re-encryption (the trigger refuses anything else).
GRANT SELECT, INSERT, UPDATE ON pharmacy_inbound TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON pharmacy_actions TO scrip_app;
