-- Pharmacy network (issue 8): the pharmacy directory. Each tenant keeps the pharmacies it can
-- route prescriptions to: NCPDP ID and NPI, address, phone, the SCRIPT transactions the pharmacy
-- supports (service levels), its mutual-TLS endpoint and the SPKI SHA-256 pins of its server key
-- (primary and backup, RFC 7469 pin format). Directory data is not PHI: plain columns.

CREATE TABLE pharmacies (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  ncpdp_id text NOT NULL CHECK (ncpdp_id ~ '^[0-9]{7}$'),
  npi text NOT NULL CHECK (npi ~ '^[12][0-9]{9}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 70),
  address_line text NOT NULL CHECK (length(address_line) BETWEEN 1 AND 40),
  city text NOT NULL CHECK (length(city) BETWEEN 1 AND 35),
  state text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
  zip text NOT NULL CHECK (zip ~ '^[0-9]{5}([0-9]{4})?$'),
  phone text NOT NULL CHECK (phone ~ '^[0-9]{10}$'),
  service_levels text[] NOT NULL CHECK (
    cardinality(service_levels) BETWEEN 1 AND 5
    AND service_levels <@ ARRAY['new', 'cancel', 'change', 'renewal', 'controlled']::text[]),
  endpoint_url text NOT NULL CHECK (endpoint_url ~ '^https://' AND length(endpoint_url) <= 2048),
  pin_primary text NOT NULL CHECK (pin_primary ~ '^[A-Za-z0-9+/]{43}=$'),
  pin_backup text CHECK (pin_backup ~ '^[A-Za-z0-9+/]{43}=$' AND pin_backup <> pin_primary),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (tenant_id, ncpdp_id)
);
-- Search: name prefix (case-insensitive), city, ZIP (5-digit prefix).
CREATE INDEX pharmacies_name ON pharmacies (tenant_id, lower(name) text_pattern_ops);
CREATE INDEX pharmacies_city ON pharmacies (tenant_id, lower(city));
CREATE INDEX pharmacies_zip ON pharmacies (tenant_id, zip text_pattern_ops);

SELECT scrip_protect_tenant_table('pharmacies');
GRANT SELECT, INSERT, UPDATE ON pharmacies TO scrip_app;
