import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import {
  SoftAuthenticator,
  type CreationOptionsJSON,
  type RequestOptionsJSON,
} from '../identity/soft-authenticator.js';
import {
  auditOutcomes,
  clinic,
  epcsPrescriber,
  patientWithTeam,
  readyCs,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

const DOC = practitioner('Lindqvist', '133333333', '424242');
const APPROVER = practitioner('Appel', '177777777', '888888');

/**
 * 21 CFR 1311.140(a)(4)/(5), 1311.115/1311.116: the two-factor credential that signs a
 * controlled-substance prescription is the one bound to the prescriber's proofed identity, not
 * any second factor the account holds.
 */
describe('EPCS: the signing step-up must use the bound credential', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC, APPROVER]);
    ({ doc } = await epcsPrescriber(
      h,
      c,
      { pr: DOC, email: 'lindqvist@example.test' },
      { pr: APPROVER, email: 'appel@example.test' },
    ));
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  const sign = (patientId: string, id: string) =>
    post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, { prescriptionIds: [id] });

  async function registerPasskey(auth: SoftAuthenticator): Promise<string> {
    const opts = await post(h.app, '/api/v1/auth/webauthn/register/options', doc.browser);
    expect(opts.statusCode, opts.body).toBe(200);
    const res = await post(h.app, '/api/v1/auth/webauthn/register', doc.browser, {
      response: auth.create(opts.json<CreationOptionsJSON>()),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ credential: { id: string } }>().credential.id;
  }

  /** A fresh passkey assertion for `action`, as `/auth/webauthn/step-up` or `route`. */
  async function passkey(auth: SoftAuthenticator, action: string, route: string, body = {}) {
    const opts = await post(h.app, '/api/v1/auth/webauthn/step-up/options', doc.browser, {
      action,
    });
    expect(opts.statusCode, opts.body).toBe(200);
    const res = await post(h.app, route, doc.browser, {
      ...body,
      response: auth.get(opts.json<RequestOptionsJSON>()),
    });
    h.clock.advance(30_000);
    return res;
  }

  const stepUps = () =>
    h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{
        credential_type: string | null;
        credential_id: string | null;
        consumed: boolean;
      }>(
        `SELECT s.credential_type, s.credential_id, s.consumed_at IS NOT NULL AS consumed
           FROM step_ups s JOIN sessions x ON x.id = s.session_id
          WHERE x.user_id = $1 AND s.action = 'rx.sign.controlled' ORDER BY s.verified_at`,
        [doc.userId],
      );
      return rows;
    });

  const boundTotp = () =>
    h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{ credential_id: string }>(
        `SELECT credential_id FROM proofing_credential_bindings
          WHERE user_id = $1 AND credential_type = 'totp'`,
        [doc.userId],
      );
      return rows.map((r) => r.credential_id);
    });

  it('the bound TOTP signs; its step-up records the TOTP that completed it', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await readyCs(h, doc, doc, patientId);
    const before = (await stepUps()).length;
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const signed = await sign(patientId, id);
    expect(signed.statusCode, signed.body).toBe(200);
    const bound = await boundTotp();
    expect(bound).toHaveLength(1);
    expect((await stepUps()).slice(before)).toEqual([
      { credential_type: 'totp', credential_id: bound[0], consumed: true },
    ]);
  });

  it('an unbound passkey cannot complete the signing step-up (403 credential_not_bound, audited, nothing signed); once bound it can', async () => {
    const auth = new SoftAuthenticator();
    const passkeyId = await registerPasskey(auth);
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await readyCs(h, doc, doc, patientId);
    const before = (await stepUps()).length;
    const up = await passkey(auth, 'rx.sign.controlled', '/api/v1/auth/webauthn/step-up', {
      action: 'rx.sign.controlled',
    });
    expect(up.statusCode, up.body).toBe(200);

    const refused = await sign(patientId, id);
    expect(refused.statusCode, refused.body).toBe(403);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({
      code: 'step_up_required',
      detail: 'credential_not_bound',
    });
    const unchanged = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(unchanged.json()).toMatchObject({ status: 'ready', signedAt: null });
    expect((await stepUps()).slice(before)).toEqual([
      { credential_type: 'webauthn', credential_id: passkeyId, consumed: false },
    ]);
    const audit = await auditOutcomes(h, c, 'rx.sign.controlled', id);
    expect(audit).toEqual([{ outcome: 'failure' }]);

    // Bound to the proofing (proof of possession of exactly this passkey), it now signs.
    const bind = await passkey(
      auth,
      'epcs.credential.bind',
      '/api/v1/identity/proofing/bind-passkey',
    );
    expect(bind.statusCode, bind.body).toBe(200);
    const again = await passkey(auth, 'rx.sign.controlled', '/api/v1/auth/webauthn/step-up', {
      action: 'rx.sign.controlled',
    });
    expect(again.statusCode, again.body).toBe(200);
    const signed = await sign(patientId, id);
    expect(signed.statusCode, signed.body).toBe(200);
  });
});
