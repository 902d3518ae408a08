import { expect } from 'vitest';
import { randomUUID } from 'node:crypto';
import { asTenantId, ManualClock, type TenantId } from '../../src/core/index.js';
import type { Tx } from '../../src/db/index.js';
import { PatientAccess } from '../../src/access/patient-access.js';
import { openRow, SHREDDED } from '../../src/crypto/row-cipher.js';
import { authRoutes } from '../../src/http/routes/auth.routes.js';
import { userRoutes } from '../../src/http/routes/users.routes.js';
import { proofingRoutes } from '../../src/http/routes/proofing.routes.js';
import { keyRoutes } from '../../src/http/routes/keys.routes.js';
import { prescriptionRoutes } from '../../src/http/routes/prescriptions.routes.js';
import { pharmacyInboxRoutes } from '../../src/http/routes/pharmacy-inbox.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { parseMessage } from '../../src/network/ncpdp-script.codec.js';
import type { NetworkOutbox, OutgoingScriptMessage } from '../../src/network/network-outbox.js';
import { newRxMessage, type NewRxWire } from '../../src/network/newrx-message.js';
import type { ScriptMessage } from '../../src/network/ncpdp-script.types.js';
import { composePrescriptions } from '../../src/prescribing/prescription.module.js';
import { OUTBOX, type OutboxPayload } from '../../src/prescribing/prescription.outbox.js';
import {
  composePharmacy,
  type InboundAnswer,
  type PharmacyModule,
} from '../../src/pharmacy/index.js';
import { buildTestApp } from '../app.js';
import { testPlatform } from '../platform.js';
import { cookiesOf, enrol, PASSWORD, post, type Enrolled } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import {
  clinic,
  draftBody,
  DRUGS,
  FakeSafety,
  fakeDrugs,
  grantEpcs,
  patientWithTeam,
  proofedPrescriber,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from '../rx/rx-harness.js';

/** The clinic's network id (Header From, qualifier D). */
export const CLINIC_SENDER = 'SCRIP-CLINIC-01';
/** The pharmacy tenant's two pharmacies. */
export const MAIN = '1234567';
export const NORTH = '7654321';

/** An in-memory outbox that records what the pharmacy hands over (test-only stub of the port). */
export class RecordingOutbox implements NetworkOutbox {
  readonly sent: { tenantId: string; msg: OutgoingScriptMessage }[] = [];
  enqueue(_tx: Tx, tenantId: TenantId, msg: OutgoingScriptMessage): Promise<void> {
    this.sent.push({ tenantId, msg });
    return Promise.resolve();
  }
  /** The last message handed over, parsed back with the codec. */
  last(): ScriptMessage {
    const m = this.sent.at(-1);
    if (m === undefined) throw new Error('nothing sent');
    const parsed = parseMessage(m.msg.xml);
    if (!parsed.ok) throw new Error(`unparseable: ${parsed.error.code}`);
    expect(parsed.message.type).toBe(m.msg.type);
    expect(parsed.message.header.messageId).toBe(m.msg.messageId);
    return parsed.message;
  }
}

export interface PharmacyHarness extends RxHarness {
  readonly ph: PharmacyModule;
  readonly outbox: RecordingOutbox;
}

export const DOC = practitioner('Okafor', '123456789', '123456');
export const APPROVER = practitioner('Appel', '177777777', '888888');

export async function pharmacyHarness(): Promise<PharmacyHarness> {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  const p = await testPlatform(clock, { isolated: true });
  const safety = new FakeSafety();
  const rx = composePrescriptions({
    db: p.db,
    clock,
    keyring: p.keyring,
    signingKeys: p.signingKeys,
    patients: p.patients,
    access: new PatientAccess(clock),
    drugs: fakeDrugs,
    safety,
  });
  const outbox = new RecordingOutbox();
  const ph = composePharmacy({ db: p.db, keyring: p.keyring, clock, outbox });
  const { app, logs } = await buildTestApp(p.db, {
    routes: [
      ...authRoutes(p.identity),
      ...userRoutes(p.identity),
      ...proofingRoutes(p.identity),
      ...keyRoutes(p.signingKeys, p.keyAdmin),
      ...prescriptionRoutes(rx),
      ...pharmacyInboxRoutes(ph),
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
    ph,
    outbox,
    close: async () => {
      await app.close();
      await p.close();
    },
  };
}

/** A user of `tenant` with `roles`, invited from the CLI, signed in with TOTP enrolled. */
export async function member(
  h: PharmacyHarness,
  tenant: TenantId,
  email: string,
  roles: string[],
): Promise<Enrolled> {
  const link = await h.p.identity.onboarding.invite(tenant, email, roles, { kind: 'cli' });
  const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
    token: link.token,
    email,
    password: PASSWORD,
    displayName: email.split('@')[0] ?? email,
  });
  expect(acc.statusCode, acc.body).toBe(200);
  return enrol(h, cookiesOf(acc));
}

export interface PharmacyTenant {
  readonly tenant: TenantId;
  readonly admin: Enrolled;
  readonly main: string;
  readonly north: string;
  readonly pharmacist: Enrolled;
  readonly technician: Enrolled;
  readonly northPharmacist: Enrolled;
  readonly support: Enrolled;
  readonly auditor: Enrolled;
}

/** A pharmacy tenant with two pharmacies, their staff (through the HTTP API) and the clinic trusted. */
export async function pharmacyTenant(h: PharmacyHarness): Promise<PharmacyTenant> {
  const tenant = asTenantId(randomUUID());
  await h.p.db.withTenant(tenant, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'Main Street Pharmacy']),
  );
  const admin = await member(h, tenant, 'padmin@pharmacy.test', ['tenant_admin']);
  const pharmacist = await member(h, tenant, 'rph@pharmacy.test', ['pharmacist']);
  const technician = await member(h, tenant, 'tech@pharmacy.test', ['pharmacy_technician']);
  const northPharmacist = await member(h, tenant, 'north@pharmacy.test', ['pharmacist']);
  const support = await member(h, tenant, 'support@pharmacy.test', ['support']);
  const auditor = await member(h, tenant, 'auditor@pharmacy.test', ['auditor']);
  const loc = async (ncpdpId: string, name: string): Promise<string> => {
    const r = await post(h.app, '/api/v1/pharmacy/locations', admin.browser, { ncpdpId, name });
    expect(r.statusCode, r.body).toBe(201);
    return r.json<{ id: string }>().id;
  };
  const main = await loc(MAIN, 'Main Street Pharmacy');
  const north = await loc(NORTH, 'North Branch Pharmacy');
  const join = async (location: string, user: Enrolled): Promise<void> => {
    const r = await h.app.inject({
      method: 'PUT',
      url: `/api/v1/pharmacy/locations/${location}/members/${user.userId}`,
      headers: headersOf(admin),
    });
    expect(r.statusCode, r.body).toBe(200);
  };
  await join(main, pharmacist);
  await join(main, technician);
  await join(north, northPharmacist);
  // Support and the auditor are members too: the permission, not only membership, must hold.
  await join(main, support);
  await join(main, auditor);
  await h.p.signingKeys.active(); // the clinic's signing key exists before its JWKS is exported
  const jwks = await h.p.signingKeys.jwks();
  await h.ph.setup.trustSender(tenant, CLINIC_SENDER, jwks, { kind: 'cli' });
  return { tenant, admin, main, north, pharmacist, technician, northPharmacist, support, auditor };
}

export function headersOf(u: Enrolled, csrf = true): Record<string, string> {
  return {
    cookie: `__Host-scrip_session=${u.browser.session}; __Host-scrip_csrf=${u.browser.csrf}`,
    ...(csrf ? { 'x-csrf-token': u.browser.csrf } : {}),
  };
}

export interface Prescribing {
  readonly c: Clinic;
  readonly doc: Person;
}

/** The clinic: a proofed prescriber with EPCS permission (approved by a second registrant). */
export async function prescribing(h: PharmacyHarness): Promise<Prescribing> {
  const c = await clinic(h, [DOC, APPROVER]);
  const approver = await proofedPrescriber(h, c, APPROVER, 'appel@example.test');
  const doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
  await grantEpcs(h, c, approver, doc.userId);
  return { c, doc };
}

/** Signs a prescription through the real flow; returns its id. */
export async function signedRx(
  h: PharmacyHarness,
  rx: Prescribing,
  drug: 'amoxicillin' | 'oxycodone' = 'amoxicillin',
  extra: Record<string, unknown> = {},
): Promise<string> {
  const patientId = await patientWithTeam(h, rx.c.tenant, [rx.doc.userId]);
  const d = await post(
    h.app,
    '/api/v1/prescriptions',
    rx.doc.browser,
    draftBody(patientId, DRUGS[drug], extra),
  );
  expect(d.statusCode, d.body).toBe(201);
  const id = d.json<{ id: string }>().id;
  const r = await post(h.app, `/api/v1/prescriptions/${id}/ready`, rx.doc.browser, {});
  expect(r.statusCode, r.body).toBe(200);
  if (drug === 'oxycodone') {
    expect(await stepUp(h, rx.doc, 'rx.sign.controlled')).toBe(200);
    const s = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, rx.doc.browser, {
      prescriptionIds: [id],
    });
    expect(s.statusCode, s.body).toBe(200);
  } else {
    expect(await stepUp(h, rx.doc, 'rx.sign')).toBe(200);
    const s = await post(h.app, `/api/v1/prescriptions/${id}/sign`, rx.doc.browser);
    expect(s.statusCode, s.body).toBe(200);
  }
  return id;
}

/** The NewRx (or CancelRx) the clinic's outbox holds for a prescription, as it goes on the wire. */
export async function wireOf(
  h: PharmacyHarness,
  rx: Prescribing,
  prescriptionId: string,
  kind: 'NewRx' | 'CancelRx' = 'NewRx',
): Promise<NewRxWire & { messageId: string }> {
  return h.p.db.withTenant(rx.c.tenant, async (tx) => {
    const { rows } = await tx.query<{ id: string; message_id: string; payload: Buffer }>(
      'SELECT id, message_id, payload FROM outbox WHERE prescription_id = $1 AND kind = $2',
      [prescriptionId, kind],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('no outbox row');
    const plain = await openRow(tx, h.p.keyring, rx.c.tenant, OUTBOX, row.id, {
      payload: row.payload,
    });
    if (plain === SHREDDED || plain.payload == null) throw new Error('payload unreadable');
    const payload = JSON.parse(plain.payload) as OutboxPayload;
    const wire = newRxMessage({
      type: kind,
      messageId: row.message_id,
      payload,
      pharmacy: {
        ncpdpId: payload.prescription.pharmacy.ncpdpId,
        npi: '1234567893',
        name: 'Main Street Pharmacy',
      },
      from: { qualifier: 'D', id: CLINIC_SENDER },
      sentTime: h.clock.now(),
    });
    return { ...wire, messageId: row.message_id.replace(/-/g, '') };
  });
}

/** Delivers a message to the pharmacy tenant as the dispatcher would (one transaction). */
export async function deliver(
  h: PharmacyHarness,
  tenant: TenantId,
  xml: string,
  jws: string | undefined,
): Promise<InboundAnswer> {
  const parsed = parseMessage(xml);
  if (!parsed.ok) throw new Error(`test message does not parse: ${parsed.error.code}`);
  return h.p.db.withTenant(tenant, (tx) =>
    h.ph.receiver.receiveAtPharmacy(tx, tenant, parsed.message, jws, { xml }),
  );
}

/** Counts of the pharmacy tenant's received rows. */
export async function counts(
  h: PharmacyHarness,
  tenant: TenantId,
): Promise<{ inbox: number; inbound: number }> {
  return h.p.db.withTenant(tenant, async (tx) => {
    const a = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pharmacy_inbox');
    const b = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pharmacy_inbound');
    return { inbox: a.rows[0]?.n ?? -1, inbound: b.rows[0]?.n ?? -1 };
  });
}
