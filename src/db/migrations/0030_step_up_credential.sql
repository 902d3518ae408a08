-- The credential that completed each step-up (21 CFR 1311.140(a)(4)/(5), 1311.115/1311.116): a
-- controlled-substance signature must be completed with the two-factor credential bound to the
-- prescriber's proofed identity, so the signing step-up records which factor it was. Nullable:
-- rows written before this migration have none, and such a step-up cannot sign EPCS.
ALTER TABLE step_ups
  ADD COLUMN credential_type text CHECK (credential_type IN ('totp', 'webauthn')),
  ADD COLUMN credential_id text CHECK (length(credential_id) BETWEEN 1 AND 200),
  ADD CONSTRAINT step_ups_credential_pair CHECK ((credential_type IS NULL) = (credential_id IS NULL));
