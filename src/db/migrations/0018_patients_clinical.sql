-- Patients' clinical data for prescribing: allergies, medications, preferred pharmacy.
-- Every PHI column is a field-cipher blob (AES-256-GCM, AAD bound to tenant, table, column and
-- row id; 45 CFR 164.312(a)(2)(iv)). RxNorm codes are public vocabulary, but tied to a patient id
-- they say what the patient is allergic to or takes, so they are sealed too and decrypted for the
-- safety checks. Status and timestamps of the record itself stay in clear to filter on.

CREATE TABLE patient_allergies (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  dek_version integer NOT NULL,
  -- Ingredient RxNorm RXCUI when coded, NULL for a free-text substance.
  rxcui bytea,
  substance bytea NOT NULL,
  reaction bytea,
  severity bytea,
  status text NOT NULL CHECK (status IN ('active', 'inactive')),
  recorded_by uuid NOT NULL REFERENCES users (id),
  recorded_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX patient_allergies_patient ON patient_allergies (tenant_id, patient_id);
CREATE INDEX patient_allergies_dek_version ON patient_allergies (tenant_id, dek_version, id);

CREATE TABLE patient_medications (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  dek_version integer NOT NULL,
  -- Drug RXCUI (may be NULL for an uncoded entry) and the JSON array of its ingredient RXCUIs.
  rxcui bytea,
  ingredient_rxcuis bytea NOT NULL,
  name bytea NOT NULL,
  dosage bytea,
  started_on bytea,
  stopped_on bytea,
  status text NOT NULL CHECK (status IN ('active', 'stopped')),
  recorded_by uuid NOT NULL REFERENCES users (id),
  recorded_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX patient_medications_patient ON patient_medications (tenant_id, patient_id);
CREATE INDEX patient_medications_dek_version ON patient_medications (tenant_id, dek_version, id);

-- One preferred pharmacy per patient (NCPDP ID; the directory itself lives elsewhere).
CREATE TABLE patient_pharmacies (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  patient_id uuid NOT NULL REFERENCES patients (id),
  dek_version integer NOT NULL,
  ncpdp_id bytea NOT NULL,
  updated_by uuid NOT NULL REFERENCES users (id),
  updated_at timestamptz NOT NULL,
  UNIQUE (tenant_id, patient_id)
);
CREATE INDEX patient_pharmacies_dek_version ON patient_pharmacies (tenant_id, dek_version, id);

CREATE TRIGGER patient_allergies_data_key BEFORE INSERT OR UPDATE OF dek_version ON patient_allergies
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();
CREATE TRIGGER patient_medications_data_key BEFORE INSERT OR UPDATE OF dek_version ON patient_medications
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();
CREATE TRIGGER patient_pharmacies_data_key BEFORE INSERT OR UPDATE OF dek_version ON patient_pharmacies
  FOR EACH ROW EXECUTE FUNCTION scrip_check_data_key();

SELECT scrip_protect_tenant_table(t)
  FROM unnest(ARRAY['patient_allergies', 'patient_medications', 'patient_pharmacies']::regclass[]) AS t;

-- No DELETE: an allergy becomes inactive and a medication stopped; the history stays.
GRANT SELECT, INSERT, UPDATE ON patient_allergies TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON patient_medications TO scrip_app;
GRANT SELECT, INSERT, UPDATE ON patient_pharmacies TO scrip_app;
