import { expect } from 'vitest';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import { PatientAccess } from '../../src/access/patient-access.js';
import { importRegistryFile } from '../../src/identity/index.js';
import { authRoutes } from '../../src/http/routes/auth.routes.js';
import { userRoutes } from '../../src/http/routes/users.routes.js';
import { proofingRoutes } from '../../src/http/routes/proofing.routes.js';
import { webauthnRoutes } from '../../src/http/routes/webauthn.routes.js';
import { keyRoutes } from '../../src/http/routes/keys.routes.js';
import { prescriptionRoutes } from '../../src/http/routes/prescriptions.routes.js';
import { fhirRxRoutes } from '../../src/http/routes/fhir-rx.routes.js';
import { drugRoutes } from '../../src/http/routes/drugs.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import {
  composePrescriptions,
  type Prescriptions,
} from '../../src/prescribing/prescription.module.js';
import type {
  DeaScheduleCode,
  DrugLookup,
  DrugSnapshot,
  SafetyChecker,
  SafetyFinding,
} from '../../src/prescribing/prescription.types.js';
import { buildTestApp } from '../app.js';
import { testPlatform } from '../platform.js';
import {
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { payloadFor, registryKey, type Practitioner } from '../identity/registry-fixture.js';

function drug(
  rxcui: string,
  name: string,
  strength: string,
  form: string,
  s: DeaScheduleCode | null,
): DrugSnapshot {
  return {
    rxcui,
    name,
    strength,
    doseForm: form,
    route: 'oral',
    ingredients: [{ rxcui: `${rxcui}0`, name: name.split(' ')[0] ?? name }],
    deaSchedule: s,
  };
}

/** A small in-memory catalog (the drug catalog module implements the real one). */
export const DRUGS = {
  oxycodone: drug(
    '1049621',
    'oxycodone hydrochloride 5 MG Oral Tablet',
    '5 mg',
    'Oral Tablet',
    'CII',
  ),
  alprazolam: drug('308048', 'alprazolam 0.5 MG Oral Tablet', '0.5 mg', 'Oral Tablet', 'CIV'),
  amoxicillin: drug('308191', 'amoxicillin 500 MG Oral Capsule', '500 mg', 'Oral Capsule', null),
} satisfies Readonly<Record<string, DrugSnapshot>>;

export const fakeDrugs: DrugLookup = {
  get: (_tx, _tenant, rxcui) =>
    Promise.resolve(Object.values(DRUGS).find((d) => d.rxcui === rxcui)),
};

/** A safety checker whose findings a test sets. */
export class FakeSafety implements SafetyChecker {
  findings: SafetyFinding[] = [];
  check(): Promise<readonly SafetyFinding[]> {
    return Promise.resolve(this.findings);
  }
}

export interface RxHarness extends Harness {
  readonly rx: Prescriptions;
  readonly safety: FakeSafety;
}

/** The interaction table shipped for tests (docs/interactions.md). */
export const INTERACTIONS_FIXTURE = new URL('../fixtures/interactions.csv', import.meta.url)
  .pathname;

/**
 * Prescriptions over the fake catalog and safety checks, or with `catalog`, the platform's own
 * composition (the drug catalog, its safety checks and the shipped interaction table) with the
 * drug catalog routes. `config` adds settings (environment strings) to the test platform's.
 */
export async function rxHarness(
  options: { catalog?: boolean; config?: Record<string, string> } = {},
): Promise<RxHarness> {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  const real = options.catalog === true;
  const p = await testPlatform(clock, {
    isolated: true,
    config: {
      ...(real ? { SCRIP_INTERACTIONS_FILE: INTERACTIONS_FIXTURE } : {}),
      ...options.config,
    },
  });
  const safety = new FakeSafety();
  const rx = real
    ? p.prescriptions
    : composePrescriptions({
        db: p.db,
        clock,
        keyring: p.keyring,
        signingKeys: p.signingKeys,
        patients: p.patients,
        access: new PatientAccess(clock),
        drugs: fakeDrugs,
        safety,
      });
  const { app, logs } = await buildTestApp(p.db, {
    routes: [
      ...authRoutes(p.identity),
      ...userRoutes(p.identity),
      ...proofingRoutes(p.identity),
      ...webauthnRoutes(p.identity),
      ...keyRoutes(p.signingKeys, p.keyAdmin),
      ...prescriptionRoutes(rx),
      ...fhirRxRoutes(rx),
      ...(real ? drugRoutes(p.db, p.changes) : []),
    ],
    authenticator: sessionAuthenticator(p.identity.sessions),
  });
  return {
    p,
    app,
    logs,
    clock,
    rx,
    safety,
    close: async () => {
      await app.close();
      await p.close();
    },
  };
}

export interface Person {
  readonly userId: string;
  browser: Browser;
  secret: string;
}

export interface Clinic {
  readonly admin: Enrolled;
  readonly tenant: TenantId;
}

export async function clinic(
  h: RxHarness,
  people: readonly Practitioner[],
  extraDea: readonly Practitioner[] = [],
): Promise<Clinic> {
  const admin = await bootstrapAdmin(h);
  const key = registryKey();
  const payload = payloadFor(people);
  // A second DEA registration of a practitioner already listed (same NPI and name).
  const extra = payloadFor(extraDea).dea;
  await importRegistryFile(
    h.p.db,
    h.clock,
    await key.sign({ ...payload, dea: [...payload.dea, ...extra] }),
    key.publicKey,
  );
  return { admin, tenant: asTenantId(admin.tenantId) };
}

export async function invite(
  h: RxHarness,
  c: Clinic,
  email: string,
  displayName: string,
  roles: string[],
): Promise<{ restricted: Browser; userId: string }> {
  const inv = await post(h.app, '/api/v1/users/invitations', c.admin.browser, { email, roles });
  expect(inv.statusCode, inv.body).toBe(201);
  const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
    token: inv.json<{ token: string }>().token,
    email,
    password: PASSWORD,
    displayName,
  });
  expect(acc.statusCode, acc.body).toBe(200);
  return { restricted: cookiesOf(acc), userId: acc.json<{ userId: string }>().userId };
}

export async function stepUp(h: RxHarness, person: Person, action: string): Promise<number> {
  const res = await post(h.app, '/api/v1/auth/step-up', person.browser, {
    action,
    totp: codeFor(person.secret, h.clock),
  });
  h.clock.advance(30_000);
  return res.statusCode;
}

/** Proofed, enrolled after the proofing, credential bound (EPCS permission not yet granted). */
export async function proofedPrescriber(
  h: RxHarness,
  c: Clinic,
  pr: Practitioner,
  email: string,
  deaNumbers: readonly string[] = [pr.dea],
): Promise<Person> {
  const { restricted, userId } = await invite(h, c, email, `Dr ${pr.lastName}`, ['prescriber']);
  const res = await post(h.app, '/api/v1/identity/proofings', c.admin.browser, {
    userId,
    npi: pr.npi,
    deaNumbers,
    licences: [{ state: pr.state, number: pr.licence }],
    evidence: [{ type: 'passport', reference: 'P-0001' }],
    ial: 'IAL2',
  });
  expect(res.statusCode, res.body).toBe(201);
  h.clock.advance(60_000);
  const e = await enrol(h, restricted);
  const person = { userId, browser: e.browser, secret: e.secret };
  expect(await stepUp(h, person, 'epcs.credential.bind')).toBe(200);
  const bind = await post(h.app, '/api/v1/identity/proofing/bind-credential', person.browser);
  expect(bind.statusCode, bind.body).toBe(200);
  return person;
}

/** The two-person EPCS grant (21 CFR 1311.125): the admin enters it, a DEA registrant approves. */
export async function grantEpcs(
  h: RxHarness,
  c: Clinic,
  approver: Person,
  userId: string,
): Promise<void> {
  const req = await post(h.app, '/api/v1/epcs/permission-requests', c.admin.browser, {
    prescriberId: userId,
    change: 'grant',
  });
  expect(req.statusCode, req.body).toBe(201);
  expect(await stepUp(h, approver, 'epcs.permission.approve')).toBe(200);
  const ok = await post(
    h.app,
    `/api/v1/epcs/permission-requests/${req.json<{ id: string }>().id}/approve`,
    approver.browser,
  );
  expect(ok.statusCode, ok.body).toBe(200);
}

/**
 * A proofed prescriber holding the EPCS permission, granted by a second proofed prescriber (the
 * approver, returned too) - the usual start of a controlled-substance test.
 */
export async function epcsPrescriber(
  h: RxHarness,
  c: Clinic,
  doc: { readonly pr: Practitioner; readonly email: string },
  approverOf: { readonly pr: Practitioner; readonly email: string },
): Promise<{ doc: Person; approver: Person }> {
  const approver = await proofedPrescriber(h, c, approverOf.pr, approverOf.email);
  const person = await proofedPrescriber(h, c, doc.pr, doc.email);
  await grantEpcs(h, c, approver, person.userId);
  return { doc: person, approver };
}

/** The outcomes of the audit records with `action` that name prescription `id`, in order. */
export async function auditOutcomes(
  h: RxHarness,
  c: Clinic,
  action: string,
  id: string,
): Promise<{ outcome: string }[]> {
  return h.p.db.withTenant(
    c.tenant,
    async (tx) =>
      (
        await tx.query<{ outcome: string }>(
          `SELECT outcome FROM audit_log WHERE action = $1 AND subjects @> $2::jsonb ORDER BY seq`,
          [action, JSON.stringify([{ type: 'prescription', id }])],
        )
      ).rows,
  );
}

export async function plainUser(
  h: RxHarness,
  c: Clinic,
  email: string,
  roles: string[],
): Promise<Person> {
  const { restricted, userId } = await invite(h, c, email, email.split('@')[0] ?? email, roles);
  const e = await enrol(h, restricted);
  return { userId, browser: e.browser, secret: e.secret };
}

/** A patient with an address, and the given users on the care team. */
export async function patientWithTeam(
  h: Harness,
  tenant: TenantId,
  team: readonly string[],
  address: string | null = '12 Elm Street, Springfield, CA 90001',
): Promise<string> {
  return h.p.db.withTenant(tenant, async (tx) => {
    const id = await h.p.patients.create(tx, tenant, {
      givenName: 'Jordan',
      familyName: 'Rivera',
      birthDate: '1980-04-02',
      ...(address === null ? {} : { address }),
    });
    for (const userId of team) {
      await tx.query(
        `INSERT INTO care_team (tenant_id, patient_id, user_id, relation, added_at) VALUES ($1, $2, $3, 'treating', $4)`,
        [tenant, id, userId, h.clock.now()],
      );
    }
    return id;
  });
}

export const PRACTICE = {
  name: 'Springfield Family Practice',
  line: '400 Main Street',
  city: 'Springfield',
  state: 'CA',
  postalCode: '90001',
};

export function draftBody(
  patientId: string,
  d: DrugSnapshot,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    patientId,
    rxcui: d.rxcui,
    quantity: { value: 20, unit: 'tablet' },
    daysSupply: 5,
    sig: 'Take 1 tablet by mouth every 6 hours as needed for pain',
    refills: 0,
    substitutionAllowed: true,
    pharmacyNcpdpId: '1234567',
    practice: PRACTICE,
    ...extra,
  };
}

/** A Schedule II draft (by `by`, for `prescriber`) marked ready by the prescriber; its id. */
export async function readyCs(
  h: RxHarness,
  by: Person,
  prescriber: Person,
  patientId: string,
): Promise<string> {
  const d = await post(
    h.app,
    '/api/v1/prescriptions',
    by.browser,
    draftBody(patientId, DRUGS.oxycodone, { prescriberId: prescriber.userId }),
  );
  expect(d.statusCode, d.body).toBe(201);
  const id = d.json<{ id: string }>().id;
  const r = await post(h.app, `/api/v1/prescriptions/${id}/ready`, prescriber.browser, {});
  expect(r.statusCode, r.body).toBe(200);
  return id;
}
