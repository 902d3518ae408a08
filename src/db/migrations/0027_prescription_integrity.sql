-- Signed prescriptions after a data-key rotation, and the EPCS review binding (issue #7).
--
-- 1. The sealed columns. 0019 let content, safety and jws change whenever dek_version went up,
--    because re-encryption (src/crypto/reencrypt.ts) rewrites them under the newer key. But
--    re-encryption runs as the application role, in the tenant's transaction, like any other
--    write: a role check on current_user cannot tell it apart, and a SECURITY DEFINER function
--    taking new ciphertexts would accept whatever the application role hands it (the database
--    never holds the data key, so it cannot compare plaintexts). What holds is a digest the
--    database freezes: at signing the application stores `sealed_digest`, SHA-256 over the
--    plaintexts of every sealed column (the JWS among them, so the digest is not a guessable
--    hash of PHI), and from then on this trigger refuses any change to it. Every read of a
--    signed prescription recomputes the digest from what it decrypted and refuses the record
--    (integrity_error) when it differs (PrescriptionRepository). Re-encryption keeps the
--    plaintexts, so it still passes; an UPDATE ... SET content = X, dek_version = newer by the
--    application role is stored but never read back as the signed prescription.
--    Prescriptions signed before this migration have no digest (the database cannot compute
--    it); for them the 0019 rule still applies.
-- 2. `review`: sealed like the body, the digest of the 21 CFR 1311.120(b)(9) elements the
--    prescriber reviewed when marking the prescription ready (patient name and address,
--    prescriber name, address and DEA number, drug, quantity, directions, refills). Signing
--    compares it with the elements it is about to sign (PrescriptionSigning).
-- 3. Status moves of a signed prescription follow src/prescribing/prescription.state.ts: no
--    backward move (dispensed -> queued, transmitted -> signed...), none out of dispensed or
--    cancelled. The same status may stay (an error code or re-encryption).

ALTER TABLE prescriptions
  ADD COLUMN review bytea,
  ADD COLUMN sealed_digest bytea CHECK (octet_length(sealed_digest) = 32),
  ADD CHECK (sealed_digest IS NULL OR signed_at IS NOT NULL);

CREATE OR REPLACE FUNCTION scrip_prescription_immutable() RETURNS trigger
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
     OR NEW.sealed_digest IS DISTINCT FROM OLD.sealed_digest
     OR NOT (NEW.status = OLD.status OR (OLD.status, NEW.status) IN (
          ('signed', 'queued'), ('signed', 'cancelled'),
          ('queued', 'transmitted'), ('queued', 'error'), ('queued', 'cancelled'),
          ('transmitted', 'acknowledged'), ('transmitted', 'error'),
          ('transmitted', 'dispensed'), ('transmitted', 'cancelled'),
          ('acknowledged', 'dispensed'), ('acknowledged', 'cancelled'),
          ('error', 'queued'), ('error', 'cancelled')))
     OR ((NEW.content IS DISTINCT FROM OLD.content OR NEW.safety IS DISTINCT FROM OLD.safety
          OR NEW.jws IS DISTINCT FROM OLD.jws OR NEW.review IS DISTINCT FROM OLD.review)
         AND NEW.dek_version <= OLD.dek_version) THEN
    RAISE EXCEPTION 'a signed prescription cannot be changed' USING ERRCODE = 'SK010';
  END IF;
  RETURN NEW;
END $$;
