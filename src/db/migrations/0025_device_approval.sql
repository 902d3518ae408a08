-- Device posture under a `deny` rule (issue #5): a device a user registers for themselves is
-- pending until a different user holding `access.policy` approves it. Only an approved device
-- satisfies a `device` rule whose onFail is `deny`; a `step_up` rule accepts any live registration
-- (self-service, as before). Devices registered before this migration carry no approval, so under
-- a `deny` rule they are pending (fail closed) until approved.
ALTER TABLE trusted_devices
  ADD COLUMN approved_by uuid REFERENCES users (id),
  ADD COLUMN approved_at timestamptz,
  ADD CONSTRAINT trusted_devices_approval CHECK (
    (approved_by IS NULL) = (approved_at IS NULL) AND approved_by IS DISTINCT FROM user_id
  );
