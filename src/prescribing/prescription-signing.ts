import { AppError, isAppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { ActiveSigner, SigningKeyService } from '../crypto/signing-keys.js';
import type { PatientAccess } from '../access/patient-access.js';
import { epcsSigningEligibility, hasCurrentBinding } from '../identity/epcs-eligibility.js';
import { RX_SIGN_CONTROLLED } from '../monitoring/actions.js';
import type { PatientRepository } from './patient.repository.js';
import type { PrescriptionRepository } from './prescription.repository.js';
import type { PrescriptionService } from './prescription.service.js';
import {
  canonicalPrescription,
  prescriberIdentity,
  signPrescription,
  type CanonicalPrescription,
} from './canonical-prescription.js';
import { auditRx } from './prescription.audit.js';
import { reviewDigest } from './epcs-review.js';
import { enqueueMessage, type EnqueueOptions } from './prescription.outbox.js';
import { RX_ACTIONS, transition } from './prescription.state.js';
import { missingElements } from './prescription.validation.js';
import {
  registrationSchedule,
  type Actor,
  type Prescription,
  type RequestMeta,
} from './prescription.types.js';

/** The step-up action that is the signature of controlled-substance prescriptions. */
export const EPCS_SIGN_ACTION = 'rx.sign.controlled';
/** The refusal's detail when what would be signed differs from what was reviewed. */
export const REVIEW_CHANGED = 'review_changed';
/** The refusal's detail when the signing step-up was not completed with a bound credential. */
export const CREDENTIAL_NOT_BOUND = 'credential_not_bound';
/** The step-up action the non-controlled signing route requires. */
export const RX_SIGN_ACTION = 'rx.sign';

export interface SigningDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly patients: PatientRepository;
  readonly repo: PrescriptionRepository;
  readonly access: PatientAccess;
  readonly service: PrescriptionService;
  readonly signingKeys: SigningKeyService;
  readonly outbox?: EnqueueOptions;
}

export interface SignedPrescription {
  readonly prescription: Prescription;
  readonly document: CanonicalPrescription;
  readonly jws: string;
}

/**
 * Signing. The application signs the canonical prescription (RFC 8785) as an ES256 JWS with the
 * platform's active key, stores the JWS, the key id and the signing time, and enqueues the NewRx
 * message, all in one transaction with the audit records (21 CFR 1311.140(a)(6): signed and
 * archived together). Controlled substances additionally follow 21 CFR 1311.140: the EPCS
 * permission and a proofed DEA registration for the schedule and state, a bound credential, and
 * a two-factor authentication completed after the review, consumed once in this transaction.
 */
export class PrescriptionSigning {
  constructor(private readonly d: SigningDeps) {}

  /**
   * A non-controlled prescription, signed by its prescriber. The route has already consumed a
   * fresh step-up bound to `rx.sign` (the prescriber reviews and signs within a fresh session).
   */
  async signNonControlled(
    actor: Actor,
    id: string,
    meta: RequestMeta,
  ): Promise<SignedPrescription> {
    const signer = await this.d.signingKeys.active();
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const patientId = await this.d.repo.patientOf(tx, id);
      await this.d.access.require(tx, actor, patientId, 'rx.sign');
      const p = await this.d.repo.get(tx, actor.tenantId, id, true);
      if (p.deaSchedule !== null) {
        throw new AppError('conflict', 'a controlled substance is signed through the EPCS review', {
          detail: 'controlled',
        });
      }
      return this.#sign(tx, actor, p, signer, meta, {});
    });
  }

  /**
   * Signs the controlled-substance prescriptions of one patient that the prescriber marked ready
   * (21 CFR 1311.140(a)(1)-(6)). The two-factor authentication is a step-up for
   * `rx.sign.controlled` on this session, completed after every listed prescription was marked
   * ready (so after the review was shown) and not yet used; it is consumed here, once. A refusal
   * is audited as a failed `rx.sign.controlled` attempt.
   */
  async signControlled(
    actor: Actor,
    patientId: string,
    input: { readonly prescriptionIds: readonly string[]; readonly deaNumber?: string | undefined },
    meta: RequestMeta,
  ): Promise<SignedPrescription[]> {
    const signer = await this.d.signingKeys.active();
    try {
      return await this.d.db.withTenant(actor.tenantId, async (tx) => {
        await this.d.access.require(tx, actor, patientId, 'rx.sign.controlled');
        const ids = [...new Set(input.prescriptionIds)].sort();
        const list: Prescription[] = [];
        for (const id of ids) {
          const p = await this.d.repo.get(tx, actor.tenantId, id, true);
          if (p.patientId !== patientId) throw new AppError('not_found', 'no such prescription');
          if (p.deaSchedule === null || p.status !== 'ready' || p.readyAt === null) {
            throw new AppError(
              'conflict',
              'every prescription must be a controlled substance marked ready',
              {
                detail: `${p.id}:${p.status}`,
              },
            );
          }
          list.push(p);
        }
        const deaNumbers = new Set(list.map((p) => p.content.deaNumber));
        const dea = list[0]?.content.deaNumber;
        if (dea === undefined || deaNumbers.size !== 1) {
          throw new AppError(
            'validation_failed',
            'sign prescriptions of one DEA registration together',
            {
              detail: 'deaNumber',
            },
          );
        }
        if (input.deaNumber !== undefined && input.deaNumber.toUpperCase() !== dea) {
          throw new AppError(
            'conflict',
            'the DEA number differs from the reviewed one; review again',
            {
              detail: 'deaNumber',
            },
          );
        }
        let proofingId: string | undefined;
        for (const p of list) {
          const schedule = p.deaSchedule;
          if (schedule === null) continue;
          const eligible = await epcsSigningEligibility(tx, actor.tenantId, actor.userId, {
            deaNumber: dea,
            schedule: registrationSchedule(schedule),
            state: p.content.practice.state,
            now: this.d.clock.now(),
          });
          if (!eligible.allowed) {
            throw new AppError('forbidden', 'not eligible to sign this controlled substance', {
              detail: eligible.reasons.join(','),
            });
          }
          proofingId = eligible.proofingId;
        }
        const reviewedAt = new Date(Math.max(...list.map((p) => p.readyAt?.getTime() ?? 0)));
        const stepUp = await this.#consumeSigningStepUp(tx, actor, reviewedAt, proofingId);
        const out: SignedPrescription[] = [];
        for (const p of list) {
          out.push(await this.#sign(tx, actor, p, signer, meta, { stepUp, deaNumber: dea }));
        }
        return out;
      });
    } catch (err) {
      if (isAppError(err)) {
        await this.d.db.withTenant(actor.tenantId, (tx) =>
          this.#auditFailure(tx, actor, patientId, input.prescriptionIds, err, meta),
        );
      }
      throw err;
    }
  }

  /** Enqueues a CancelRx for a signed prescription being cancelled (same transaction). */
  async enqueueCancel(tx: Tx, tenantId: TenantId, p: Prescription): Promise<void> {
    if (p.jws === null) return;
    const [, payload = ''] = p.jws.split('.');
    const document = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    ) as CanonicalPrescription;
    await enqueueMessage(
      tx,
      this.d.keyring,
      this.d.clock,
      tenantId,
      p.id,
      'CancelRx',
      { prescription: document, jws: p.jws },
      this.d.outbox,
    );
  }

  async #sign(
    tx: Tx,
    actor: Actor,
    p: Prescription,
    signer: ActiveSigner,
    meta: RequestMeta,
    epcs: { readonly stepUp?: string; readonly deaNumber?: string },
  ): Promise<SignedPrescription> {
    if (p.prescriberId !== actor.userId) {
      throw new AppError('forbidden', 'only the prescriber of this prescription may sign it');
    }
    const action = transition(p.status, 'signed', 'clinic');
    const patient = await this.d.patients.get(tx, actor.tenantId, p.patientId);
    if (patient.shredded) throw new AppError('shredded', 'the patient record was destroyed');
    const prescriber = await prescriberIdentity(tx, actor.tenantId, actor.userId);
    // 21 CFR 1311.140(a)(2)-(3): sign only what the prescriber reviewed. The patient's and the
    // prescriber's name and address live outside the prescription and may have changed since.
    if (p.deaSchedule !== null && p.reviewDigest !== reviewDigest(patient, prescriber, p.content)) {
      throw new AppError('conflict', 'the reviewed elements changed: review again', {
        detail: REVIEW_CHANGED,
      });
    }
    const missing = missingElements({
      patientName: `${patient.givenName} ${patient.familyName}`.trim(),
      patientAddress: patient.address ?? '',
      prescriberName: prescriber.name,
      content: p.content,
    });
    if (missing.length > 0) {
      throw new AppError(
        'validation_failed',
        'required prescription elements are missing (21 CFR 1306.05(a))',
        {
          detail: `missing:${missing.join(',')}`,
        },
      );
    }
    // Findings may have appeared since the review (a new allergy): they need a new review.
    const overrides = p.findings.flatMap((f) =>
      f.overrideReason === undefined ? [] : [{ key: f.key, reason: f.overrideReason }],
    );
    const { unresolved } = await this.d.service.runSafety(tx, actor.tenantId, p, overrides);
    if (unresolved.length > 0) {
      throw new AppError('conflict', 'new safety findings: review the prescription again', {
        detail: `safety:${unresolved.join(',')}`,
      });
    }
    const signedAt = this.d.clock.now();
    const document = canonicalPrescription(actor.tenantId, p, patient, prescriber, signedAt);
    const jws = await signPrescription(document, signer.keyId, (input) => signer.sign(input));
    await this.d.repo.saveSigned(tx, actor.tenantId, p, { jws, keyId: signer.keyId, signedAt });
    const ids = { prescriptionId: p.id, patientId: p.patientId };
    await auditRx(tx, this.d.clock, actor, action, ids, meta, {
      keyId: signer.keyId,
      schedule: p.deaSchedule ?? 'none',
      ...(epcs.stepUp === undefined ? {} : { stepUp: epcs.stepUp }),
    });
    if (p.deaSchedule !== null) {
      await auditRx(tx, this.d.clock, actor, RX_SIGN_CONTROLLED, ids, meta, {
        schedule: p.deaSchedule,
        ...(epcs.stepUp === undefined ? {} : { stepUp: epcs.stepUp }),
      });
    }
    const messageId = await enqueueMessage(
      tx,
      this.d.keyring,
      this.d.clock,
      actor.tenantId,
      p.id,
      'NewRx',
      { prescription: document, jws },
      this.d.outbox,
    );
    const queued = transition('signed', 'queued', 'clinic');
    await this.d.repo.setStatus(tx, p.id, 'queued');
    await auditRx(tx, this.d.clock, actor, queued, ids, meta, { messageId, kind: 'NewRx' });
    return { prescription: await this.d.repo.get(tx, actor.tenantId, p.id), document, jws };
  }

  /**
   * Consumes the newest unused, unexpired `rx.sign.controlled` step-up of this session (or its
   * parent, for a bearer token) verified at or after `notBefore`. A replayed (already consumed),
   * expired, or earlier-than-the-review step-up is refused with `step_up_required`; so is one
   * completed with a credential that has no live binding to the prescriber's current proofing
   * (`credential_not_bound`, 21 CFR 1311.140(a)(4)/(5), 1311.115/1311.116): a passkey added
   * after proofing and never bound, or a step-up recorded before factors were.
   */
  async #consumeSigningStepUp(
    tx: Tx,
    actor: Actor,
    notBefore: Date,
    proofingId: string | undefined,
  ): Promise<string> {
    const now = this.d.clock.now();
    const { rows } = await tx.query<{
      id: string;
      credential_type: 'totp' | 'webauthn' | null;
      credential_id: string | null;
    }>(
      `SELECT s.id, s.credential_type, s.credential_id FROM step_ups s
        WHERE s.session_id IN (SELECT $1::uuid UNION SELECT parent_id FROM sessions WHERE id = $1 AND parent_id IS NOT NULL)
          AND s.action = $2 AND s.consumed_at IS NULL AND s.expires_at > $3 AND s.verified_at >= $4
        ORDER BY s.verified_at DESC LIMIT 1 FOR UPDATE`,
      [actor.sessionId, EPCS_SIGN_ACTION, now, notBefore],
    );
    const s = rows[0];
    if (s === undefined) {
      throw new AppError('step_up_required', 'complete two-factor authentication to sign', {
        detail: EPCS_SIGN_ACTION,
      });
    }
    const bound =
      proofingId !== undefined &&
      s.credential_type !== null &&
      s.credential_id !== null &&
      (await hasCurrentBinding(tx, proofingId, actor.userId, {
        type: s.credential_type,
        id: s.credential_id,
      }));
    if (!bound) {
      throw new AppError(
        'step_up_required',
        'complete two-factor authentication with the credential bound to your proofed identity',
        { detail: CREDENTIAL_NOT_BOUND },
      );
    }
    await tx.query('UPDATE step_ups SET consumed_at = $2 WHERE id = $1', [s.id, now]);
    return s.id;
  }

  async #auditFailure(
    tx: Tx,
    actor: Actor,
    patientId: string,
    prescriptionIds: readonly string[],
    err: AppError,
    meta: RequestMeta,
  ): Promise<void> {
    const known = await tx.query<{ id: string }>(
      'SELECT id FROM prescriptions WHERE id = ANY($1::uuid[]) AND patient_id = $2',
      [prescriptionIds, patientId],
    );
    // Nothing was signed; the prescriptions go back for a new review of the current elements.
    const reset =
      err.code === 'conflict' && err.detail === REVIEW_CHANGED
        ? await this.d.repo.backToDraft(
            tx,
            known.rows.map((r) => r.id),
            actor.userId,
          )
        : [];
    for (const id of reset) {
      transition('ready', 'draft', 'clinic');
      await auditRx(
        tx,
        this.d.clock,
        actor,
        RX_ACTIONS.changed,
        { prescriptionId: id, patientId },
        meta,
        {
          reviewReset: true,
          reason: REVIEW_CHANGED,
        },
      );
    }
    for (const { id } of known.rows) {
      await auditRx(
        tx,
        this.d.clock,
        actor,
        RX_SIGN_CONTROLLED,
        { prescriptionId: id, patientId },
        meta,
        {
          code: err.code,
          reason: (err.detail ?? '').slice(0, 200),
        },
        'failure',
      );
    }
  }
}
