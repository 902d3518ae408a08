/**
 * Server catalogs the compliance forms offer as choices. Plain data (no DOM), copied because the
 * web app cannot import src/; test/web/catalog-drift.test.ts compares them with the server's.
 */

/** The built-in roles (src/access/role-catalog.ts); the server refuses any other. */
export const ROLES = [
  'tenant_admin',
  'security_admin',
  'prescriber',
  'prescriber_agent',
  'pharmacist',
  'pharmacy_technician',
  'care_coordinator',
  'support',
  'compliance_officer',
  'auditor',
  'staff',
] as const;

/** Kinds of PHI (src/compliance/breach-letter.ts PHI_TYPES). */
export const PHI_TYPES = [
  ['full_name', 'full name'],
  ['home_address', 'home address'],
  ['date_of_birth', 'date of birth'],
  ['ssn', 'Social Security number'],
  ['phone_or_email', 'telephone number or e-mail address'],
  ['medical_record_number', 'medical record number'],
  ['health_plan_id', 'health plan or insurance member number'],
  ['account_number', 'account number'],
  ['diagnosis', 'diagnosis or condition'],
  ['medications', 'medications and prescription details'],
  ['controlled_substances', 'controlled-substance prescription details'],
  ['prescriber_details', 'prescriber and pharmacy details'],
  ['lab_results', 'laboratory results'],
  ['disability_code', 'disability code'],
  ['drivers_license', "driver's licence or state ID number"],
  ['financial', 'payment card or bank account information'],
  ['other', 'other health information'],
] as const;
