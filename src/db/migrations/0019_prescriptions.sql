-- Prescriptions and their lifecycle (21 CFR 1306.05, 1306.12, 1311.120(b), 1311.140), the
-- transactional outbox towards the pharmacy network, and the prescribers' monthly logs of
-- controlled-substance prescriptions (1311.120(b)(27)).
--
-- PHI stays sealed by the application (row cipher, AAD bound to tenant, table, column and row):
-- the clinical body (`content`: drug snapshot, quantity, directions, diagnosis, pharmacy...), the
-- safety findings with their override reasons, and the signed JWS. What stays clear is what the
-- queries need: ids, status, timestamps and whether the drug is controlled (its DEA schedule),
-- which the EPCS review and the monthly logs select on.

CREATE TABLE prescriptions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  prescriber_id uuid NOT NULL REFERENCES users (id),
  drafted_by uuid NOT NULL REFERENCES users (id),
  kind text NOT NULL CHECK (kind IN ('new', 'renewal', 'change')),
  previous_id uuid REFERENCES prescriptions (id),
  dea_schedule text CHECK (dea_schedule IN ('CII', 'CIII', 'CIV', 'CV')),
  status text NOT NULL CHECK (status IN ('draft', 'ready', 'signed', 'queued', 'transmitted',
                                         'acknowledged', 'error', 'dispensed', 'cancelled')),
  -- Bumped by every content change: a review or a safety override applies to one version only.
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  dek_version integer NOT NULL,
  content bytea NOT NULL,
  safety bytea,
  jws bytea,
  key_id text,
  ready_at timestamptz,
  signed_at timestamptz,
  signed_by uuid REFERENCES users (id),
  error_code text CHECK (error_code ~ '^[a-z0-9_.-]{1,60}$'),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  status_changed_at timestamptz NOT NULL,
  CHECK ((kind = 'new') = (previous_id IS NULL)),
  CHECK ((signed_at IS NULL) = (jws IS NULL) AND (signed_at IS NULL) = (key_id IS NULL)
         AND (signed_at IS NULL) = (signed_by IS NULL)),
  CHECK (signed_at IS NOT NULL OR status IN ('draft', 'ready', 'cancelled')),
  CHECK (signed_at IS NULL OR signed_by = prescriber_id)
);
CREATE INDEX prescriptions_patient ON prescriptions (tenant_id, patient_id, status);
CREATE INDEX prescriptions_prescriber_signed ON prescriptions (tenant_id, prescriber_id, signed_at)
  WHERE dea_schedule IS NOT NULL;
CREATE INDEX prescriptions_dek_version ON prescriptions (tenant_id, dek_version, id);

-- 45 CFR 164.312(c)(1) integrity, 21 CFR 1311.140(a)(6) archive: once signed, the content of a
-- prescription never changes, whoever asks (the application role included). Only the delivery
-- state may advance (status, error code, timestamps). The sealed columns may be rewritten only
-- by re-encryption under a newer data key (same plaintext, and the JWS inside still covers it).
CREATE FUNCTION scrip_prescription_immutable() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  IF OLD.signed_at IS NULL THEN
    RETURN NEW;
  END IF;
  IF NEW.id IS DISTINCT FROM OLD.id OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
     OR NEW.patient_id IS DISTINCT FROM OLD.patient_id
     OR NEW.prescriber_id IS DISTINCT FROM OLD.prescriber_id
     OR NEW.drafted_by IS DISTINCT FROM OLD.drafted_by OR NEW.kind IS DISTINCT FROM OLD.kind
     OR NEW.previous_id IS DISTINCT FROM OLD.previous_id
     OR NEW.dea_schedule IS DISTINCT FROM OLD.dea_schedule
     OR NEW.version IS DISTINCT FROM OLD.version OR NEW.key_id IS DISTINCT FROM OLD.key_id
     OR NEW.ready_at IS DISTINCT FROM OLD.ready_at OR NEW.signed_at IS DISTINCT FROM OLD.signed_at
     OR NEW.signed_by IS DISTINCT FROM OLD.signed_by OR NEW.created_at IS DISTINCT FROM OLD.created_at
     OR NEW.status IN ('draft', 'ready')
     OR ((NEW.content IS DISTINCT FROM OLD.content OR NEW.safety IS DISTINCT FROM OLD.safety
          OR NEW.jws IS DISTINCT FROM OLD.jws) AND NEW.dek_version <= OLD.dek_version) THEN
    RAISE EXCEPTION 'a signed prescription cannot be changed' USING ERRCODE = 'SK010';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER prescriptions_immutable BEFORE UPDATE ON prescriptions
  FOR EACH ROW EXECUTE FUNCTION scrip_prescription_immutable();
CREATE TRIGGER prescriptions_data_key BEFORE INSERT OR UPDATE OF dek_version ON prescriptions
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

-- The transactional outbox (the network worker delivers it; NCPDP SCRIPT NewRx, CancelRx...).
-- A row is written in the same transaction as the change that causes the message, so a signed
-- prescription is never lost nor sent twice by a crash between commit and send:
--   id             the row id;
--   prescription_id the prescription the message is about;
--   message_id     unique message id (NCPDP Header/MessageID), idempotency key for the switch;
--   kind           NewRx | CancelRx | RxRenewalRequest | RxChangeRequest;
--   payload        sealed (row cipher, table 'outbox', column 'payload'): JSON
--                  { "prescription": <canonical signed prescription>, "jws": "<compact JWS>" };
--   status         pending -> claimed -> sent | failed (pending again after a retryable failure);
--   attempts, next_attempt_at   retry schedule; deadline_at  give up (failed) after this time;
--   claimed_by, claimed_until   the worker's lease, taken with FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  prescription_id uuid NOT NULL REFERENCES prescriptions (id),
  message_id uuid NOT NULL UNIQUE,
  kind text NOT NULL CHECK (kind IN ('NewRx', 'CancelRx', 'RxRenewalRequest', 'RxChangeRequest')),
  dek_version integer NOT NULL,
  payload bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'claimed', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL,
  deadline_at timestamptz NOT NULL,
  claimed_by text,
  claimed_until timestamptz,
  last_error text CHECK (last_error ~ '^[a-z0-9_.-]{1,60}$'),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CHECK ((status = 'claimed') = (claimed_by IS NOT NULL AND claimed_until IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_prescription ON outbox (tenant_id, prescription_id);
CREATE INDEX outbox_dek_version ON outbox (tenant_id, dek_version, id);
CREATE TRIGGER outbox_data_key BEFORE INSERT OR UPDATE OF dek_version ON outbox
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

-- The monthly log of each prescriber's controlled-substance prescriptions (1311.120(b)(27)),
-- generated once per month for the previous month; entries are PHI and sealed.
CREATE TABLE prescriber_monthly_logs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  prescriber_id uuid NOT NULL REFERENCES users (id),
  month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  entry_count integer NOT NULL CHECK (entry_count >= 0),
  dek_version integer NOT NULL,
  entries bytea NOT NULL,
  generated_at timestamptz NOT NULL,
  UNIQUE (tenant_id, prescriber_id, month)
);
CREATE INDEX prescriber_monthly_logs_dek_version ON prescriber_monthly_logs (tenant_id, dek_version, id);
CREATE TRIGGER prescriber_monthly_logs_data_key BEFORE INSERT OR UPDATE OF dek_version
  ON prescriber_monthly_logs FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['prescriptions', 'outbox', 'prescriber_monthly_logs']::regclass[]) AS t;

-- No DELETE anywhere: prescriptions and their messages are records to keep.
GRANT SELECT, INSERT, UPDATE ON prescriptions TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON outbox TO scrip_app;
-- UPDATE only for re-encryption of the sealed entries.
GRANT SELECT, INSERT, UPDATE ON prescriber_monthly_logs TO scrip_app;
