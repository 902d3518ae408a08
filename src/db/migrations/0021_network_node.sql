-- The network node inside every Scrip installation (issue 8; docs/network.md): each tenant's
-- network identity (Header address, client certificate and sealed private key, the switch to
-- send through), the generic network outbox for every message kind, the inbound idempotency
-- record, the prescriptions' delivery timeline and the prescribers' queue of pharmacy requests.

-- One row per Header address the tenant answers to: D + the clinic's network id, or P + an NCPDP
-- ID for a pharmacy tenant (several rows for several pharmacies). The address is unique across
-- the installation (an inbound message is dispatched by its Header To). The client private key
-- is sealed with the tenant's data key (row cipher, column `private_key`); never plain.
CREATE TABLE network_identities (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  qualifier text NOT NULL CHECK (qualifier IN ('D', 'P')),
  address text NOT NULL CHECK (address ~ '^[A-Za-z0-9._-]{1,35}$'),
  cert_pem text NOT NULL CHECK (length(cert_pem) BETWEEN 1 AND 20000),
  cert_pin text NOT NULL CHECK (cert_pin ~ '^[A-Za-z0-9+/]{43}=$'),
  dek_version integer NOT NULL,
  private_key bytea NOT NULL,
  switch_url text CHECK (switch_url ~ '^https://' AND length(switch_url) <= 2048),
  switch_pins text[] NOT NULL DEFAULT '{}' CHECK (cardinality(switch_pins) <= 4),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK (qualifier <> 'P' OR address ~ '^[0-9]{7}$'),
  CHECK (switch_url IS NULL OR cardinality(switch_pins) >= 1),
  UNIQUE (qualifier, address)
);
CREATE INDEX network_identities_tenant ON network_identities (tenant_id);
CREATE INDEX network_identities_dek_version ON network_identities (tenant_id, dek_version, id);
CREATE TRIGGER network_identities_data_key BEFORE INSERT OR UPDATE OF dek_version
  ON network_identities FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

-- Dispatch of an inbound message: which tenant answers to this address. Returns the tenant id
-- alone; everything else stays behind RLS.
CREATE FUNCTION scrip_network_tenant_of(q text, a text) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT tenant_id FROM public.network_identities WHERE qualifier = q AND address = a $$;
REVOKE ALL ON FUNCTION scrip_network_tenant_of(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_network_tenant_of(text, text) TO scrip_app;

-- The two SECURITY DEFINER functions run as the owner, which FORCE ROW LEVEL SECURITY also
-- filters (on the embedded server the owner is no superuser): let the owner read the table for
-- them. The application role is unaffected; the functions return tenant ids only.
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_dispatch ON network_identities FOR SELECT TO %I USING (true)', current_user);
END $$;

-- Whether any tenant has a network identity (the worker in `scrip serve` runs only then).
CREATE FUNCTION scrip_network_tenants() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$ SELECT DISTINCT tenant_id FROM public.network_identities ORDER BY tenant_id $$;
REVOKE ALL ON FUNCTION scrip_network_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrip_network_tenants() TO scrip_app;

-- The generic network outbox: every message a tenant sends other than the NewRx/CancelRx written
-- at signing (those stay in `outbox`): pharmacy-originated messages (Status, RxFill,
-- CancelRxResponse, RxRenewalRequest, RxChangeRequest) and the prescriber's answers
-- (RxRenewalResponse, RxChangeResponse). Same lease/back-off/deadline columns as `outbox`.
-- `payload` is sealed: JSON { "xml": ..., "jws": ... | null }. `gate_refused` remembers that a
-- BAA gate refusal was audited for this row (audited once, not per attempt).
CREATE TABLE network_outbox (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  message_type text NOT NULL CHECK (message_type IN ('NewRx', 'CancelRx', 'CancelRxResponse',
    'RxRenewalRequest', 'RxRenewalResponse', 'RxChangeRequest', 'RxChangeResponse', 'RxFill',
    'Status', 'Verify', 'Error')),
  message_id text NOT NULL CHECK (message_id ~ '^[A-Za-z0-9._-]{1,35}$'),
  relates_to text CHECK (relates_to ~ '^[A-Za-z0-9._-]{1,35}$'),
  from_qualifier text NOT NULL CHECK (from_qualifier IN ('D', 'P')),
  from_address text NOT NULL,
  to_qualifier text NOT NULL CHECK (to_qualifier IN ('D', 'P')),
  to_address text NOT NULL CHECK (to_address ~ '^[A-Za-z0-9._-]{1,35}$'),
  prescription_id uuid REFERENCES prescriptions (id),
  dek_version integer NOT NULL,
  payload bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'claimed', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL,
  deadline_at timestamptz NOT NULL,
  claimed_by text,
  claimed_until timestamptz,
  last_error text CHECK (last_error ~ '^[a-z0-9_.-]{1,60}$'),
  gate_refused boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK ((status = 'claimed') = (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)),
  UNIQUE (tenant_id, from_qualifier, from_address, message_id)
);
CREATE INDEX network_outbox_due ON network_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX network_outbox_dek_version ON network_outbox (tenant_id, dek_version, id);
CREATE TRIGGER network_outbox_data_key BEFORE INSERT OR UPDATE OF dek_version ON network_outbox
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

-- The BAA gate refusal is audited once per `outbox` row too (NewRx/CancelRx written at signing).
ALTER TABLE outbox ADD COLUMN gate_refused boolean NOT NULL DEFAULT false;

-- Inbound idempotency (wire contract): each (From, MessageID) is processed once per receiving
-- tenant; a repeat gets the stored answer (a Status or Error message, no PHI) and changes nothing.
CREATE TABLE network_inbound (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  from_qualifier text NOT NULL,
  from_address text NOT NULL,
  message_id text NOT NULL,
  message_type text NOT NULL,
  answer_status integer NOT NULL CHECK (answer_status BETWEEN 200 AND 599),
  answer_xml text NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, from_qualifier, from_address, message_id)
);

-- Each prescription's delivery timeline, written in the transaction of the change it records.
-- Codes only (SCRIPT status/error codes, refusal tokens): no PHI.
CREATE TABLE delivery_events (
  id uuid PRIMARY KEY,
  -- Order of writing (several events can share a timestamp within one transaction).
  seq bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  prescription_id uuid NOT NULL REFERENCES prescriptions (id),
  event text NOT NULL CHECK (event IN ('queued', 'sent', 'acknowledged', 'accepted', 'dispensed',
    'partially_dispensed', 'not_dispensed', 'error', 'cancel_requested', 'cancel_confirmed',
    'cancel_denied', 'held', 'failed', 'renewal_requested', 'change_requested', 'renewal_approved',
    'renewal_denied', 'change_approved', 'change_denied')),
  code text CHECK (code ~ '^[A-Za-z0-9_.:-]{1,80}$'),
  message_id text,
  at timestamptz NOT NULL
);
CREATE INDEX delivery_events_rx ON delivery_events (tenant_id, prescription_id, seq);

-- The prescribers' queue of pharmacy requests (RxRenewalRequest, RxChangeRequest): the request
-- (PHI) sealed in `content` (JSON of the parsed message); the decision and the answer's id clear.
CREATE TABLE prescriber_requests (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  kind text NOT NULL CHECK (kind IN ('renewal', 'change')),
  prescription_id uuid REFERENCES prescriptions (id),
  prescriber_id uuid REFERENCES users (id),
  patient_id uuid REFERENCES patients (id),
  from_qualifier text NOT NULL,
  from_address text NOT NULL,
  message_id text NOT NULL,
  dek_version integer NOT NULL,
  content bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decided_by uuid REFERENCES users (id),
  decided_at timestamptz,
  response_message_id text,
  result_prescription_id uuid REFERENCES prescriptions (id),
  created_at timestamptz NOT NULL,
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX prescriber_requests_queue ON prescriber_requests (tenant_id, status, created_at);
CREATE INDEX prescriber_requests_dek_version ON prescriber_requests (tenant_id, dek_version, id);
CREATE TRIGGER prescriber_requests_data_key BEFORE INSERT OR UPDATE OF dek_version
  ON prescriber_requests FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['network_identities', 'network_outbox', 'network_inbound', 'delivery_events',
                    'prescriber_requests']::regclass[]) AS t;

-- UPDATE on identities: certificate rotation and re-encryption. No DELETE: records to keep.
GRANT SELECT, INSERT, UPDATE ON network_identities TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON network_outbox TO scrip_app;
GRANT SELECT, INSERT ON network_inbound TO scrip_app;
GRANT SELECT, INSERT ON delivery_events TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON prescriber_requests TO scrip_app;
