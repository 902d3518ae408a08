/**
 * `scrip demo seed --out FILE`: development data to try Scrip end to end. A demo clinic with one
 * user per role and a demo pharmacy, every user enrolled with TOTP through the ordinary
 * invitation and enrolment paths; the prescriber proofed against a demo registry file (signed
 * with a throw-away key and imported through the ordinary verifier), credential bound, and given
 * EPCS permission through the real two-person path (requested by the administrator, approved by
 * a second demo DEA registrant with a step-up); demo patients with allergies, medications and a
 * preferred pharmacy, the demo prescriber on their care teams; a small drug catalog (the RxNorm
 * release in demo/rxnorm) and formulary through change control, proposed by one clinic pharmacist
 * and approved by a second one; and a few prescriptions in different states (demo-rx.ts).
 * Passwords and TOTP secrets are written to FILE (mode 0600, never overwritten). Refused when
 * SCRIP_ENV is production.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { AppError, asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { localEs256Signer } from '../crypto/jws.js';
import {
  deaCheckDigit,
  decodeBase32Strict,
  EPCS_APPROVE_ACTION,
  importRegistryFile,
  npiCheckDigit,
  REGISTRY_FORMAT,
  ROLES,
  signRegistryFile,
  totp,
  type Caller,
  type Identity,
  type RegistryPayload,
  type Role,
} from '../identity/index.js';
import type { Patients } from '../prescribing/index.js';
import type { ChangeControlService } from '../prescribing/change-control.service.js';
import type { Prescriptions } from '../prescribing/prescription.module.js';
import { seedDemoNetwork, type DemoNetwork, type DemoNetworkDeps } from './demo-network.js';
import { seedDemoPatients } from './demo-patients.js';
import {
  seedDemoCatalog,
  seedDemoPrescriptions,
  type DemoCatalog,
  type DemoPrescription,
} from './demo-rx.js';

export interface DemoSeedDeps {
  readonly config: Config;
  readonly db: Database;
  readonly clock: Clock;
  readonly identity: Identity;
  readonly patientServices: Patients;
  readonly changes: ChangeControlService;
  readonly prescriptions: Prescriptions;
}

export interface DemoUser {
  readonly tenantId: string;
  readonly role: string;
  readonly email: string;
  readonly password: string;
  readonly totpSecret: string;
  readonly recoveryCodes: readonly string[];
  readonly userId: string;
}

export interface DemoSeedResult {
  readonly file: string;
  readonly tenants: readonly { id: string; name: string; kind: string }[];
  readonly users: readonly DemoUser[];
  readonly prescriber: {
    readonly userId: string;
    readonly npi: string;
    readonly deaNumber: string;
    readonly state: string;
    readonly licence: string;
  };
  /** Demo patients (allergies, medications, preferred pharmacy), the prescriber on their care teams. */
  readonly patientIds: readonly string[];
  /** The demo drug catalog's change proposals (all applied) and its number of drugs. */
  readonly catalog: DemoCatalog;
  /** Demo prescriptions: a draft by the agent, a ready, a signed and a cancelled one. */
  readonly prescriptions: readonly DemoPrescription[];
  /** The one-machine network (demo-network.ts); absent when SCRIP_LOCAL_NETWORK is off. */
  readonly network?: DemoNetwork;
}

/** A well-formed NPI from a 9-digit base (Luhn with the 80840 prefix). */
export function demoNpi(base9: string): string {
  return `${base9}${String(npiCheckDigit(base9))}`;
}

/** A well-formed practitioner DEA number for a last name and six digits. */
export function demoDea(lastName: string, digits6: string, type = 'A'): string {
  return `${type}${lastName.charAt(0).toUpperCase()}${digits6}${String(deaCheckDigit(digits6))}`;
}

/** The TOTP code of a base32 secret at `atMs`. */
export function demoTotp(secret: string, atMs: number): string {
  const bytes = decodeBase32Strict(secret);
  if (bytes === undefined) throw new TypeError('bad TOTP secret');
  return totp(bytes, atMs);
}

const title = (role: string): string =>
  role
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

interface Enrolled extends DemoUser {
  readonly caller: Caller;
}

/** `network`: also connect the two tenants through the local switch (when it is on). */
export async function seedDemo(
  deps: DemoSeedDeps,
  out: string,
  network?: DemoNetworkDeps,
): Promise<DemoSeedResult> {
  if (deps.config.SCRIP_ENV === 'production') {
    throw new AppError('forbidden', 'demo data is refused when SCRIP_ENV is production', {
      detail: 'SCRIP_ENV',
    });
  }
  let fd: number;
  try {
    fd = openSync(out, 'wx', 0o600);
  } catch (cause) {
    throw new AppError('conflict', `refusing to write ${out}: it exists or cannot be created`, {
      cause,
    });
  }
  try {
    const result = await populate(deps, out, network);
    writeSync(fd, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } catch (err) {
    closeSync(fd);
    fd = -1;
    unlinkSync(out);
    throw err;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function populate(
  deps: DemoSeedDeps,
  file: string,
  networkDeps: DemoNetworkDeps | undefined,
): Promise<DemoSeedResult> {
  const { db, clock, identity } = deps;
  const tag = randomBytes(3).toString('hex');
  const clinic = await createTenant(db, `Demo Clinic ${tag}`, 'clinic');
  const pharmacy = await createTenant(db, `Demo Pharmacy ${tag}`, 'pharmacy');

  const pending = async (
    tenantId: TenantId,
    domain: string,
    role: Role,
    name: string,
  ): Promise<{
    email: string;
    password: string;
    caller: Caller;
    role: Role;
    tenantId: TenantId;
  }> => {
    const email = `${role.replace(/_/g, '-')}${name === '' ? '' : `-${name.toLowerCase()}`}@${domain}-${tag}.demo.test`;
    const password = randomBytes(18).toString('base64url');
    const link = await identity.onboarding.invite(tenantId, email, [role], { kind: 'cli' });
    const accepted = await identity.onboarding.acceptInvitation(
      link.token,
      { email, password, displayName: `Demo ${name === '' ? title(role) : name}` },
      {},
    );
    const s = accepted.issued?.session;
    if (s === undefined) throw new AppError('internal', 'invitation gave no session');
    return {
      email,
      password,
      role,
      tenantId,
      caller: { userId: s.userId, tenantId, sessionId: s.id },
    };
  };
  const enrol = async (p: Awaited<ReturnType<typeof pending>>): Promise<Enrolled> => {
    const e = await identity.account.beginTotp(p.caller);
    const code = demoTotp(e.secret, clock.now().getTime());
    const r = await identity.account.confirmTotp(p.caller, code, {});
    const s = r.issued.session;
    return {
      tenantId: p.tenantId,
      role: p.role,
      email: p.email,
      password: p.password,
      totpSecret: e.secret,
      recoveryCodes: r.recoveryCodes,
      userId: s.userId,
      caller: { userId: s.userId, tenantId: p.tenantId, sessionId: s.id },
    };
  };

  // The administrator first: they proof the prescribers and enter the EPCS request.
  const admin = await enrol(await pending(clinic, 'clinic', 'tenant_admin', ''));
  const others: Enrolled[] = [];
  for (const role of ROLES) {
    if (role === 'tenant_admin' || role === 'prescriber') continue;
    others.push(await enrol(await pending(clinic, 'clinic', role, '')));
  }
  // A second clinic pharmacist: catalog changes need a second person to approve them.
  const pharmacist2 = await enrol(await pending(clinic, 'clinic', 'pharmacist', 'Second'));
  const pharmacist = others.find((u) => u.role === 'pharmacist');
  const agent = others.find((u) => u.role === 'prescriber_agent');
  if (pharmacist === undefined || agent === undefined) throw new AppError('internal', 'seed');

  // Demo registry: two practitioners, signed by a throw-away key, imported through the verifier.
  const expires = new Date(clock.now().getTime() + 2 * 365 * 86_400_000).toISOString().slice(0, 10);
  const people = [
    { name: 'Prescriber', npi: demoNpi('123456789'), digits: '123456', licence: 'DEMO-1001' },
    { name: 'Registrant', npi: demoNpi('198765432'), digits: '654321', licence: 'DEMO-1002' },
  ].map((p) => ({ ...p, dea: demoDea(p.name, p.digits) }));
  const payload: RegistryPayload = {
    format: REGISTRY_FORMAT,
    source: `demo-${tag}`,
    issuedAt: clock.now().toISOString(),
    npi: people.map((p) => ({ npi: p.npi, lastName: p.name, firstName: 'Demo', status: 'active' })),
    dea: people.map((p) => ({
      deaNumber: p.dea,
      registrantLastName: p.name,
      npi: p.npi,
      schedules: ['2', '2N', '3', '3N', '4', '5'],
      state: 'CA',
      expiresOn: expires,
      status: 'active',
    })),
    licences: people.map((p) => ({
      state: 'CA',
      number: p.licence,
      lastName: p.name,
      npi: p.npi,
      expiresOn: expires,
      status: 'active',
    })),
  };
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `demo-${tag}`;
  const text = await signRegistryFile(payload, localEs256Signer(keys.privateKey), kid);
  await importRegistryFile(db, clock, text, keys.publicKey);

  // Proof first, then enrol: the credential is issued to the proofed identity.
  const proofed: Enrolled[] = [];
  for (const p of people) {
    const u = await pending(clinic, 'clinic', 'prescriber', p.name);
    await identity.proofing.record(
      admin.caller,
      {
        userId: u.caller.userId,
        npi: p.npi,
        deaNumbers: [p.dea],
        licences: [{ state: 'CA', number: p.licence }],
        evidence: [{ type: 'drivers_licence', reference: `DEMO-DL-${p.digits}` }],
        ial: 'IAL2',
      },
      {},
    );
    const enrolled = await enrol(u);
    await identity.proofing.bindTotp(enrolled.caller, {});
    proofed.push(enrolled);
  }
  const [prescriber, registrant] = proofed;
  if (prescriber === undefined || registrant === undefined) throw new AppError('internal', 'seed');

  // 21 CFR 1311.125: entered by the administrator, approved by the second registrant with 2FA.
  const request = await identity.epcs.request(admin.caller, prescriber.userId, 'grant', {});
  const nextStep = demoTotp(registrant.totpSecret, clock.now().getTime() + 30_000);
  await identity.account.stepUp(registrant.caller, EPCS_APPROVE_ACTION, nextStep, {});
  const consumed = await identity.sessions.consumeStepUp(
    clinic,
    registrant.caller.sessionId,
    EPCS_APPROVE_ACTION,
  );
  if (!consumed) throw new AppError('internal', 'demo step-up was not recorded');
  await identity.epcs.approve(registrant.caller, request.id, {});

  const patientIds = await seedDemoPatients(deps.patientServices, {
    ...prescriber.caller,
    tenantId: clinic,
  });
  const catalog = await seedDemoCatalog(
    deps.changes,
    clinic,
    pharmacist.caller,
    pharmacist2.caller,
  );
  const prescriptions = await seedDemoPrescriptions(
    deps,
    clinic,
    prescriber,
    agent.caller,
    patientIds,
  );

  const pharmacyUsers: Enrolled[] = [];
  for (const role of ['tenant_admin', 'pharmacist', 'pharmacy_technician'] as const) {
    pharmacyUsers.push(await enrol(await pending(pharmacy, 'pharmacy', role, '')));
  }

  const officer = others.find((u) => u.role === 'compliance_officer');
  const [pharmacyAdmin, ...pharmacyStaff] = pharmacyUsers;
  if (officer === undefined || pharmacyAdmin === undefined) throw new AppError('internal', 'seed');
  const network =
    networkDeps === undefined
      ? undefined
      : await seedDemoNetwork(networkDeps, {
          tag,
          clinic,
          pharmacy,
          complianceOfficer: officer.caller,
          routingApprover: pharmacist.caller,
          pharmacyAdmin: pharmacyAdmin.caller,
          pharmacyStaff: pharmacyStaff.map((u) => u.userId),
        });

  const strip = (u: Enrolled): DemoUser => ({
    tenantId: u.tenantId,
    role: u.role,
    email: u.email,
    password: u.password,
    totpSecret: u.totpSecret,
    recoveryCodes: u.recoveryCodes,
    userId: u.userId,
  });
  const first = people[0];
  return {
    file,
    tenants: [
      { id: clinic, name: `Demo Clinic ${tag}`, kind: 'clinic' },
      { id: pharmacy, name: `Demo Pharmacy ${tag}`, kind: 'pharmacy' },
    ],
    users: [admin, prescriber, registrant, ...others, pharmacist2, ...pharmacyUsers].map(strip),
    prescriber: {
      userId: prescriber.userId,
      npi: first?.npi ?? '',
      deaNumber: first?.dea ?? '',
      state: 'CA',
      licence: first?.licence ?? '',
    },
    patientIds,
    catalog,
    prescriptions,
    ...(network === undefined ? {} : { network }),
  };
}

async function createTenant(
  db: Database,
  name: string,
  kind: 'clinic' | 'pharmacy',
): Promise<TenantId> {
  const id = asTenantId(randomUUID());
  await db.withTenant(id, (tx) =>
    tx.query('INSERT INTO tenants (id, name, kind) VALUES ($1, $2, $3)', [id, name, kind]),
  );
  return id;
}
