import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
import { asTenantId } from '../../src/core/index.js';
import { BUILT_IN_CATALOG, ROLES, type Role } from '../../src/access/role-catalog.js';
import { isPermission } from '../../src/access/permissions.js';
import {
  bootstrapAdmin,
  cookiesOf,
  enrol,
  headers,
  inviteAndEnrol,
  post,
  PASSWORD,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { DRUGS, patientWithTeam, PRACTICE } from '../rx/rx-harness.js';
import { fullHarness } from './harness.js';
import { EXPECTED_PERMISSIONS } from './route-permissions.js';

/**
 * Every route (from the app's own route table) × every built-in role, plus an anonymous caller
 * and a user of another tenant holding every role. 45 CFR 164.312(a)(1); OWASP ASVS V4.1.1.
 */
describe('authorization matrix', () => {
  let h: Harness;
  let admin: Enrolled;
  const byRole = new Map<Role, Enrolled>();
  let other: Enrolled;
  /** A real patient and prescription of the first tenant, for the cross-tenant pass. */
  let patient: string;
  let rx: string;

  beforeAll(async () => {
    h = await fullHarness();
    admin = await bootstrapAdmin(h);
    for (const role of ROLES) {
      byRole.set(role, await inviteAndEnrol(h, admin.browser, `${role}@example.test`, [role]));
    }
    const t2 = asTenantId(randomUUID());
    await h.p.db.withTenant(t2, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
    );
    const link = await h.p.identity.onboarding.invite(t2, 'olga@example.test', [...ROLES], {
      kind: 'cli',
    });
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: link.token,
      email: 'olga@example.test',
      password: PASSWORD,
      displayName: 'Olga Other',
    });
    expect(acc.statusCode, acc.body).toBe(200);
    other = await enrol(h, cookiesOf(acc));
    const tenant = asTenantId(admin.tenantId);
    const prescriber = byRole.get('prescriber')?.userId ?? '';
    patient = await patientWithTeam(h, tenant, [prescriber]);
    rx = randomUUID();
    await h.p.db.withTenant(tenant, (tx) =>
      h.p.prescriptions.repo.insert(tx, tenant, {
        id: rx,
        patientId: patient,
        prescriberId: prescriber,
        draftedBy: prescriber,
        kind: 'new',
        previousId: null,
        content: {
          drug: DRUGS.amoxicillin,
          quantity: { value: 20, unit: 'capsule' },
          daysSupply: 10,
          sig: 'Take 1 capsule by mouth every 12 hours',
          refills: 0,
          substitutionAllowed: true,
          pharmacyNcpdpId: '1234567',
          practice: PRACTICE,
        },
      }),
    );
  }, 300_000);
  afterAll(async () => {
    await h.close();
  });

  /**
   * Fills path parameters: with `real`, ids of tenant-A objects (for the cross-tenant check): the
   * seeded patient on patient routes, the seeded prescription on prescription routes, a user id
   * elsewhere; otherwise random ids, so the role sweep changes nothing it is allowed to change.
   */
  function urlFor(template: string, real: boolean): string {
    const somebody = real ? (byRole.get('prescriber')?.userId ?? randomUUID()) : randomUUID();
    const isPatient = /^\/(api\/v1\/patients|fhir\/R4\/Patient)\//.test(template);
    const isRx = /^\/(api\/v1\/prescriptions|fhir\/R4\/MedicationRequest)\//.test(template);
    const id = !real ? somebody : isPatient ? patient : isRx ? rx : somebody;
    return template
      .replace(':userId', somebody)
      .replace(':patientId', real ? patient : randomUUID())
      .replace(':tenantId', admin.tenantId)
      .replace(':seq', '1')
      .replace(':day', '2026-03-01')
      .replace(':credentialId', 'AAAA')
      .replace(':id', id);
  }

  async function call(method: string, template: string, who: Enrolled | undefined, real = false) {
    const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
    return h.app.inject({
      method: method as Verb,
      url: urlFor(template, real),
      headers: who === undefined ? {} : headers(who.browser, method !== 'GET'),
      ...(hasBody ? { payload: {} } : {}),
    });
  }

  it('every route has a reviewed expected permission, and it is the one declared', () => {
    const declared = Object.fromEntries(
      h.app.scripRoutes.map((r) => [`${r.method} ${r.url}`, r.permission]),
    );
    const missing = Object.keys(declared).filter((k) => !(k in EXPECTED_PERMISSIONS));
    expect(missing, 'routes without a matrix entry').toEqual([]);
    const stale = Object.keys(EXPECTED_PERMISSIONS).filter((k) => !(k in declared));
    expect(stale, 'matrix entries without a route').toEqual([]);
    expect(declared).toEqual(EXPECTED_PERMISSIONS);
    for (const p of Object.values(declared)) {
      expect(['public', 'session', 'authenticated'].includes(p) || isPermission(p), p).toBe(true);
    }
  });

  it('anonymous callers reach only public routes', async () => {
    for (const r of h.app.scripRoutes) {
      const res = await call(r.method, r.url, undefined);
      const key = `${r.method} ${r.url}`;
      // Public routes answer on their own terms (a failed SSO completion is a 401 of its own).
      if (r.permission !== 'public') expect(res.statusCode, key).toBe(401);
      expect(res.statusCode, key).toBeLessThan(500);
    }
  });

  it('each role reaches exactly the routes its permissions allow', async () => {
    const checked: string[] = [];
    for (const r of h.app.scripRoutes) {
      if (!isPermission(r.permission)) continue;
      for (const role of ROLES) {
        const who = byRole.get(role);
        const res = await call(r.method, r.url, who);
        const key = `${role} ${r.method} ${r.url} → ${String(res.statusCode)} ${res.body}`;
        const allowed = (BUILT_IN_CATALOG[role] as readonly string[]).includes(r.permission);
        const code = res.statusCode === 403 ? res.json<{ code: string }>().code : undefined;
        if (allowed) {
          expect(res.statusCode, key).not.toBe(401);
          expect(code, key).not.toBe('forbidden');
        } else {
          expect(res.statusCode, key).toBe(403);
          expect(code, key).toBe('forbidden');
        }
        expect(res.statusCode, key).toBeLessThan(500);
        checked.push(key);
      }
    }
    expect(checked.length).toBeGreaterThan(ROLES.length * 10);
  });

  it('signed-in routes admit every role', async () => {
    const staff = byRole.get('staff');
    for (const r of h.app.scripRoutes) {
      if (r.permission !== 'authenticated') continue;
      const res = await call(r.method, r.url, staff);
      const key = `${r.method} ${r.url} → ${String(res.statusCode)} ${res.body}`;
      expect(res.statusCode, key).not.toBe(401);
      if (res.statusCode === 403) {
        expect(res.json<{ code: string }>().code, key).not.toBe('forbidden');
      }
      expect(res.statusCode, key).toBeLessThan(500);
    }
  });

  it("a user of another tenant holding every role never gets this tenant's objects", async () => {
    // The seeded ids are real: this tenant's prescriber (on the care team) reads them.
    const prescriber = byRole.get('prescriber') as Enrolled;
    for (const url of [`/api/v1/patients/${patient}`, `/api/v1/prescriptions/${rx}`]) {
      const own = await h.app.inject({
        method: 'GET',
        url,
        headers: headers(prescriber.browser, false),
      });
      expect(own.statusCode, `${url} ${own.body}`).toBe(200);
    }
    for (const r of h.app.scripRoutes) {
      if (!isPermission(r.permission) || !r.url.includes(':')) continue;
      const res = await call(r.method, r.url, other, true);
      const key = `${r.method} ${r.url} → ${String(res.statusCode)} ${res.body}`;
      expect(res.statusCode, key).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, key).toBeLessThan(500);
      const params = r.url.match(/:[A-Za-z]+/g) ?? [];
      const realIds = params.every((x) => x === ':id' || x === ':userId' || x === ':patientId');
      if (r.method === 'GET' && r.stepUp === undefined && realIds) {
        expect(res.statusCode, key).toBe(404);
      }
    }
  });
});
