-- The network switch (issue 8 item 5): an NCPDP SCRIPT intermediary that authenticates
-- participants by client certificate, routes by Header To and service level, stores each
-- accepted message durably and forwards it (store and forward), and relays the recipient's final
-- answer to the sender.
--
-- The switch keeps its rows under one dedicated internal tenant (kind 'platform', created by the
-- switch at start, id fixed in src/switch/switch-tenant.ts). So the usual protections apply
-- unchanged: FORCE RLS (no clinic or pharmacy tenant of the same installation can read a
-- switch row), the tenant's data key seals the message bodies (PHI), and the audit records carry
-- that tenant id. Production runs `scrip switch` on a database of its own; the local switch of
-- `scrip serve` shares the installation's database.

-- Participants: prescriber systems and pharmacies. Pins are RFC 7469 pin-sha256 values (primary
-- and backup for rotation): client_* authenticate the participant's client certificate,
-- server_* pin the participant's endpoint when the switch delivers to it.
CREATE TABLE switch_participants (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  id text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  kind text NOT NULL CHECK (kind IN ('prescriber_system', 'pharmacy')),
  endpoint_url text NOT NULL CHECK (endpoint_url ~ '^https://' AND length(endpoint_url) <= 2048),
  server_pin_primary text NOT NULL CHECK (server_pin_primary ~ '^[A-Za-z0-9+/]{43}=$'),
  server_pin_backup text CHECK (server_pin_backup ~ '^[A-Za-z0-9+/]{43}=$'
                                AND server_pin_backup <> server_pin_primary),
  client_pin_primary text NOT NULL CHECK (client_pin_primary ~ '^[A-Za-z0-9+/]{43}=$'),
  client_pin_backup text CHECK (client_pin_backup ~ '^[A-Za-z0-9+/]{43}=$'
                                AND client_pin_backup <> client_pin_primary),
  service_levels text[] NOT NULL CHECK (
    cardinality(service_levels) BETWEEN 1 AND 5
    AND service_levels <@ ARRAY['new', 'cancel', 'change', 'renewal', 'controlled']::text[]),
  -- The prescriber system's prescription-signing public keys (ES256 JWKS); public data.
  jwks jsonb CHECK (jwks IS NULL OR jsonb_typeof(jwks -> 'keys') = 'array'),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CHECK (kind = 'pharmacy' OR jwks IS NOT NULL)
);

-- Addresses (Header To/From) a participant owns: D:<prescriber system id> or P:<NCPDP ID>.
-- An address belongs to one participant at most.
CREATE TABLE switch_addresses (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  qualifier text NOT NULL CHECK (qualifier IN ('P', 'D')),
  value text NOT NULL CHECK (value ~ '^[A-Za-z0-9._:-]{1,35}$'),
  participant_id text NOT NULL,
  PRIMARY KEY (tenant_id, qualifier, value),
  CHECK (qualifier <> 'P' OR value ~ '^[0-9]{7}$'),
  FOREIGN KEY (tenant_id, participant_id) REFERENCES switch_participants (tenant_id, id)
);
CREATE INDEX switch_addresses_participant ON switch_addresses (tenant_id, participant_id);

-- Accepted messages (store and forward). One row per (From, MessageID): the idempotency key of
-- the wire contract. `body` (the SCRIPT XML) and `jws` (the prescription signature, whose payload
-- is the prescription) are PHI and sealed (row cipher, table 'switch_messages').
--   status        pending -> claimed -> delivered | failed (pending again after a retryable failure)
--   answer_code   the recipient's final answer: 000, or the SCRIPT Error code (900, ...), or
--                 'expired' when the deadline passed without an answer
--   relay_status  the relay of that answer to the original sender: none -> pending -> claimed ->
--                 sent | failed (same lease and back-off discipline)
CREATE TABLE switch_messages (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  sender_id text NOT NULL,
  from_qualifier text NOT NULL CHECK (from_qualifier IN ('P', 'D')),
  from_value text NOT NULL,
  message_id text NOT NULL CHECK (message_id ~ '^[A-Za-z0-9._:-]{1,35}$'),
  recipient_id text NOT NULL,
  to_qualifier text NOT NULL CHECK (to_qualifier IN ('P', 'D')),
  to_value text NOT NULL,
  message_type text NOT NULL CHECK (message_type ~ '^[A-Za-z]{1,30}$'),
  controlled boolean NOT NULL,
  dek_version integer NOT NULL,
  body bytea NOT NULL,
  jws bytea,
  status text NOT NULL CHECK (status IN ('pending', 'claimed', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL,
  deadline_at timestamptz NOT NULL,
  claimed_by text,
  claimed_until timestamptz,
  last_error text CHECK (last_error ~ '^[a-z0-9_.-]{1,60}$'),
  answer_code text CHECK (answer_code ~ '^([0-9]{3}|expired)$'),
  delivered_at timestamptz,
  relay_status text NOT NULL DEFAULT 'none'
    CHECK (relay_status IN ('none', 'pending', 'claimed', 'sent', 'failed')),
  relay_message_id text CHECK (relay_message_id ~ '^[A-Za-z0-9._:-]{1,35}$'),
  relay_attempts integer NOT NULL DEFAULT 0 CHECK (relay_attempts >= 0),
  relay_next_at timestamptz,
  relay_deadline_at timestamptz,
  relay_claimed_by text,
  relay_claimed_until timestamptz,
  relay_error text CHECK (relay_error ~ '^[a-z0-9_.-]{1,60}$'),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (tenant_id, from_qualifier, from_value, message_id),
  FOREIGN KEY (tenant_id, sender_id) REFERENCES switch_participants (tenant_id, id),
  FOREIGN KEY (tenant_id, recipient_id) REFERENCES switch_participants (tenant_id, id),
  CHECK ((status = 'claimed') = (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)),
  CHECK ((relay_status = 'claimed') = (relay_claimed_by IS NOT NULL
                                       AND relay_claimed_until IS NOT NULL))
);
CREATE INDEX switch_messages_due ON switch_messages (tenant_id, next_attempt_at)
  WHERE status IN ('pending', 'claimed');
CREATE INDEX switch_messages_relay_due ON switch_messages (tenant_id, relay_next_at)
  WHERE relay_status IN ('pending', 'claimed');
CREATE INDEX switch_messages_dek_version ON switch_messages (tenant_id, dek_version, id);
CREATE TRIGGER switch_messages_data_key BEFORE INSERT OR UPDATE OF dek_version ON switch_messages
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['switch_participants', 'switch_addresses', 'switch_messages']::regclass[]) AS t;

-- Participants are updated (rotation) and deactivated, never deleted (messages refer to them);
-- their addresses are released on removal. Messages are records: no DELETE.
GRANT SELECT, INSERT, UPDATE ON switch_participants TO scrip_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON switch_addresses TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON switch_messages TO scrip_app;
