import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { PatientAccess } from '../access/patient-access.js';
import { recordPatientAccess } from '../access/patient-access.js';
import { checkSeries, prescriberFor } from './prescription.rules.js';
import type { Patient, PatientRepository } from './patient.repository.js';
import type { PrescriptionRepository } from './prescription.repository.js';
import { prescriberIdentity } from './canonical-prescription.js';
import { reviewDigest } from './epcs-review.js';
import { auditRx, resolveFindings, type Override } from './prescription.audit.js';
import { RX_ACTIONS, transition, type TransitionSource } from './prescription.state.js';
import {
  deaElementsChanged,
  DEFAULT_LIMITS,
  missingElements,
  validateContent,
  type PrescriptionLimits,
} from './prescription.validation.js';
import type {
  Actor,
  DrugLookup,
  Prescription,
  PrescriptionContent,
  PrescriptionStatus,
  RecordedFinding,
  RequestMeta,
  SafetyChecker,
} from './prescription.types.js';

export interface PrescriptionDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly patients: PatientRepository;
  readonly repo: PrescriptionRepository;
  readonly access: PatientAccess;
  readonly drugs: DrugLookup;
  readonly safety: SafetyChecker;
  readonly limits?: PrescriptionLimits;
}

/** The editable fields of a draft; `rxcui` is resolved through the drug catalog. */
export type DraftFields = Omit<PrescriptionContent, 'drug'> & { readonly rxcui: string };

export interface DraftInput extends DraftFields {
  readonly patientId: string;
  /** Whom an agent drafts for; a prescriber drafting for themselves may leave it out. */
  readonly prescriberId?: string | undefined;
}

/**
 * The prescription lifecycle before and after signing (signing itself is in
 * prescription-signing.ts): draft (prescriber or agent, 21 CFR 1311.135(a)), change, ready with
 * the safety findings and their overrides, cancel, renew and change as linked records, and the
 * delivery moves reported by the network and the pharmacy. Every read and write passes the
 * patient relationship check first and writes its audit record in the same transaction.
 */
export class PrescriptionService {
  readonly #limits: PrescriptionLimits;

  constructor(private readonly d: PrescriptionDeps) {
    this.#limits = d.limits ?? DEFAULT_LIMITS;
  }

  async draft(actor: Actor, input: DraftInput, meta: RequestMeta): Promise<Prescription> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const { patientId, prescriberId: named, ...fields } = input;
      await this.d.access.require(tx, actor, patientId, 'rx.draft');
      const prescriberId = await prescriberFor(tx, actor, named);
      const content = await this.#content(tx, actor.tenantId, fields);
      const id = randomUUID();
      await checkSeries(
        tx,
        this.d.repo,
        this.d.clock.now(),
        actor.tenantId,
        id,
        patientId,
        prescriberId,
        content,
      );
      await this.d.repo.insert(tx, actor.tenantId, {
        id,
        patientId,
        prescriberId,
        draftedBy: actor.userId,
        kind: 'new',
        previousId: null,
        content,
      });
      await auditRx(
        tx,
        this.d.clock,
        actor,
        RX_ACTIONS.created,
        { prescriptionId: id, patientId: input.patientId },
        meta,
        {
          kind: 'new',
          schedule: content.drug.deaSchedule ?? 'none',
        },
      );
      return this.d.repo.get(tx, actor.tenantId, id);
    });
  }

  /**
   * Changes a draft or ready prescription. A change to any element the prescriber reviews under
   * 21 CFR 1311.120(b)(9) sends a ready prescription back to draft (a new review). A signed
   * prescription is never changed: the attempt is refused and audited.
   */
  async update(
    actor: Actor,
    id: string,
    patch: Partial<DraftFields>,
    meta: RequestMeta,
  ): Promise<Prescription> {
    const refused = await this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.draft', true);
      if (p.signedAt !== null || p.status === 'cancelled') {
        await auditRx(
          tx,
          this.d.clock,
          actor,
          RX_ACTIONS.editRefused,
          { prescriptionId: id, patientId: p.patientId },
          meta,
          { status: p.status },
          'failure',
        );
        return true;
      }
      return false;
    });
    if (refused) {
      throw new AppError('conflict', 'a signed or cancelled prescription cannot be changed', {
        detail: 'immutable',
      });
    }
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.draft', true);
      const { drug, ...rest } = p.content;
      const merged = { ...rest, rxcui: drug.rxcui, ...patch };
      const content = await this.#content(tx, actor.tenantId, merged);
      await checkSeries(
        tx,
        this.d.repo,
        this.d.clock.now(),
        actor.tenantId,
        id,
        p.patientId,
        p.prescriberId,
        content,
      );
      const reset = p.status === 'ready' && deaElementsChanged(p.content, content);
      const status = reset ? 'draft' : p.status === 'ready' ? 'ready' : 'draft';
      if (reset) transition('ready', 'draft', 'clinic');
      await this.d.repo.saveUnsigned(tx, actor.tenantId, p, {
        content,
        findings: status === 'ready' ? p.findings : [],
        status,
        bumpVersion: true,
      });
      await auditRx(
        tx,
        this.d.clock,
        actor,
        RX_ACTIONS.changed,
        { prescriptionId: id, patientId: p.patientId },
        meta,
        {
          reviewReset: reset,
          fields: Object.keys(patch).sort().join(','),
        },
      );
      return this.d.repo.get(tx, actor.tenantId, id);
    });
  }

  /** Runs the safety checks now and shows the findings (keys for overrides), without storing. */
  async safetyPreview(actor: Actor, id: string, meta: RequestMeta): Promise<RecordedFinding[]> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.draft', false);
      const bases = await this.d.access.bases(tx, actor, [p.patientId], 'rx.draft');
      await recordPatientAccess(tx, this.d.clock, actor, RX_ACTIONS.read, bases, meta, {
        prescription: id,
        view: 'safety',
      });
      return (await this.runSafety(tx, actor.tenantId, p, [])).recorded;
    });
  }

  /**
   * The prescriber marks a prescription ready to sign (21 CFR 1311.140(a)(2)): the 1306.05(a)
   * elements must be present, every safety finding above `info` overridden with a reason, and for
   * a controlled substance one of the prescriber's proofed DEA numbers chosen.
   */
  async markReady(
    actor: Actor,
    id: string,
    input: { readonly overrides?: readonly Override[]; readonly deaNumber?: string | undefined },
    meta: RequestMeta,
  ): Promise<Prescription> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.sign', true);
      if (p.prescriberId !== actor.userId) {
        throw new AppError(
          'forbidden',
          'only the prescriber of this prescription may mark it ready',
        );
      }
      if (p.deaSchedule !== null && !actor.permissions.has('rx.sign.controlled')) {
        throw new AppError('forbidden', 'permission denied', { detail: 'rx.sign.controlled' });
      }
      transition(p.status, 'ready', 'clinic');
      const prescriber = await prescriberIdentity(tx, actor.tenantId, actor.userId);
      let content = p.content;
      if (p.deaSchedule !== null) {
        const chosen = (input.deaNumber ?? content.deaNumber)?.toUpperCase();
        const dea =
          chosen ?? (prescriber.deaNumbers.length === 1 ? prescriber.deaNumbers[0] : undefined);
        if (dea === undefined) {
          throw new AppError('validation_failed', 'choose one of your DEA registrations', {
            detail: prescriber.deaNumbers.length > 1 ? 'deaNumber_choice' : 'deaNumber',
          });
        }
        if (!prescriber.deaNumbers.includes(dea)) {
          throw new AppError('validation_failed', 'not one of your proofed DEA registrations', {
            detail: 'deaNumber',
          });
        }
        content = { ...content, deaNumber: dea };
      }
      const patient = await this.#patient(tx, actor.tenantId, p.patientId);
      const missing = missingElements({
        patientName: `${patient.givenName} ${patient.familyName}`.trim(),
        patientAddress: patient.address ?? '',
        prescriberName: prescriber.name,
        content,
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
      const { recorded, unresolved } = await this.runSafety(
        tx,
        actor.tenantId,
        { ...p, content },
        input.overrides ?? [],
      );
      if (unresolved.length > 0) {
        throw new AppError('conflict', 'safety findings need an override reason before signing', {
          detail: `safety:${unresolved.join(',')}`,
        });
      }
      await this.d.repo.saveUnsigned(tx, actor.tenantId, p, {
        content,
        findings: recorded,
        status: 'ready',
        bumpVersion: content !== p.content,
        reviewDigest: reviewDigest(patient, prescriber, content),
      });
      const overridden = recorded.filter((f) => f.overrideReason !== undefined);
      await auditRx(
        tx,
        this.d.clock,
        actor,
        RX_ACTIONS.ready,
        { prescriptionId: id, patientId: p.patientId },
        meta,
        {
          findings: recorded.length,
          overridden: overridden.length,
          overriddenKinds: [...new Set(overridden.map((f) => f.kind))].sort().join(','),
        },
      );
      return this.d.repo.get(tx, actor.tenantId, id);
    });
  }

  /** One prescription (JWS included once signed); the read is audited. */
  async get(actor: Actor, id: string, meta: RequestMeta): Promise<Prescription> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.read', false);
      const bases = await this.d.access.bases(tx, actor, [p.patientId], 'rx.read');
      await recordPatientAccess(tx, this.d.clock, actor, RX_ACTIONS.read, bases, meta, {
        prescription: id,
      });
      return p;
    });
  }

  /** A patient's prescriptions (newest last); the read is audited. */
  async listForPatient(
    actor: Actor,
    patientId: string,
    meta: RequestMeta,
  ): Promise<Prescription[]> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      await this.d.access.require(tx, actor, patientId, 'rx.read');
      const bases = await this.d.access.bases(tx, actor, [patientId], 'rx.read');
      const list = await this.d.repo.list(tx, actor.tenantId, { patientId });
      await recordPatientAccess(tx, this.d.clock, actor, RX_ACTIONS.read, bases, meta, {
        count: list.length,
      });
      return list;
    });
  }

  /**
   * Cancels a prescription. Unsigned ones simply end; a signed one already on its way gets a
   * CancelRx message through `onSignedCancel` (the signing module enqueues it) in the same
   * transaction.
   */
  async cancel(
    actor: Actor,
    id: string,
    meta: RequestMeta,
    onSignedCancel?: (tx: Tx, p: Prescription) => Promise<void>,
  ): Promise<Prescription> {
    return this.d.db.withTenant(actor.tenantId, async (tx) => {
      const p = await this.#load(tx, actor, id, 'rx.cancel', true);
      const action = transition(p.status, 'cancelled', 'clinic');
      await this.d.repo.setStatus(tx, id, 'cancelled');
      if (p.signedAt !== null && p.status !== 'signed' && onSignedCancel !== undefined) {
        await onSignedCancel(tx, p);
      }
      await auditRx(
        tx,
        this.d.clock,
        actor,
        action,
        { prescriptionId: id, patientId: p.patientId },
        meta,
        { from: p.status },
      );
      return this.d.repo.get(tx, actor.tenantId, id);
    });
  }

  /** A renewal or change: a new draft linked to a signed prescription, fields copied then patched. */
  async derive(
    actor: Actor,
    id: string,
    kind: 'renewal' | 'change',
    patch: Partial<DraftFields>,
    meta: RequestMeta,
  ): Promise<Prescription> {
    return this.d.db.withTenant(actor.tenantId, (tx) =>
      this.deriveIn(tx, actor, id, kind, patch, meta),
    );
  }

  /**
   * {@link derive} in the caller's transaction (the tenant's context): an approved renewal
   * request creates its draft in the transaction that records the approval, so the two commit
   * together or not at all.
   */
  async deriveIn(
    tx: Tx,
    actor: Actor,
    id: string,
    kind: 'renewal' | 'change',
    patch: Partial<DraftFields>,
    meta: RequestMeta,
  ): Promise<Prescription> {
    const prev = await this.#load(tx, actor, id, 'rx.draft', false);
    if (prev.signedAt === null) {
      throw new AppError('conflict', 'only a signed prescription can be renewed or changed', {
        detail: prev.status,
      });
    }
    const { drug, ...rest } = prev.content;
    const content = await this.#content(tx, actor.tenantId, {
      ...rest,
      deaNumber: undefined,
      rxcui: drug.rxcui,
      ...patch,
    });
    const newId = randomUUID();
    await checkSeries(
      tx,
      this.d.repo,
      this.d.clock.now(),
      actor.tenantId,
      newId,
      prev.patientId,
      prev.prescriberId,
      content,
    );
    await this.d.repo.insert(tx, actor.tenantId, {
      id: newId,
      patientId: prev.patientId,
      prescriberId: prev.prescriberId,
      draftedBy: actor.userId,
      kind,
      previousId: prev.id,
      content,
    });
    await auditRx(
      tx,
      this.d.clock,
      actor,
      RX_ACTIONS.created,
      { prescriptionId: newId, patientId: prev.patientId },
      meta,
      {
        kind,
        previous: prev.id,
        schedule: content.drug.deaSchedule ?? 'none',
      },
    );
    return this.d.repo.get(tx, actor.tenantId, newId);
  }

  /**
   * A delivery move reported by the network (transmitted, error, acknowledged) or the pharmacy
   * (dispensed), checked against the lifecycle table and audited with the system as actor.
   */
  async advance(
    tenantId: TenantId,
    id: string,
    to: PrescriptionStatus,
    by: Exclude<TransitionSource, 'clinic'>,
    info: { readonly errorCode?: string; readonly requestId?: string } = {},
  ): Promise<void> {
    await this.d.db.withTenant(tenantId, (tx) => this.advanceIn(tx, tenantId, id, to, by, info));
  }

  /**
   * {@link advance} inside the caller's transaction (`tx` in `tenantId`'s context), so a delivery
   * record (the outbox row) and the prescription's status commit together. `details` are extra
   * audit details (ids and codes only).
   */
  async advanceIn(
    tx: Tx,
    tenantId: TenantId,
    id: string,
    to: PrescriptionStatus,
    by: Exclude<TransitionSource, 'clinic'>,
    info: { readonly errorCode?: string; readonly requestId?: string } = {},
    details: Readonly<Record<string, string | number | boolean>> = {},
  ): Promise<void> {
    const p = await this.d.repo.get(tx, tenantId, id, true);
    const action = transition(p.status, to, by);
    await this.d.repo.setStatus(tx, id, to, info.errorCode ?? null);
    await auditRx(
      tx,
      this.d.clock,
      { tenantId, system: by },
      action,
      { prescriptionId: id, patientId: p.patientId },
      { requestId: info.requestId },
      {
        ...details,
        from: p.status,
        ...(info.errorCode === undefined ? {} : { errorCode: info.errorCode }),
      },
    );
  }

  /** Runs the safety-check port and joins the overrides (also used again at signing). */
  async runSafety(
    tx: Tx,
    tenantId: TenantId,
    p: Prescription,
    overrides: readonly Override[],
  ): Promise<{ recorded: RecordedFinding[]; unresolved: string[] }> {
    const findings = await this.d.safety.check({
      tx,
      tenantId,
      patientId: p.patientId,
      prescriptionId: p.id,
      drug: p.content.drug,
      quantity: p.content.quantity,
      daysSupply: p.content.daysSupply,
      sig: p.content.sig,
    });
    return resolveFindings(findings, overrides);
  }

  /** Loads a prescription after the patient relationship check (not_found otherwise). */
  async #load(
    tx: Tx,
    actor: Actor,
    id: string,
    need: 'rx.read' | 'rx.draft' | 'rx.sign' | 'rx.cancel',
    lock: boolean,
  ): Promise<Prescription> {
    const patientId = await this.d.repo.patientOf(tx, id);
    await this.d.access.require(tx, actor, patientId, need);
    return this.d.repo.get(tx, actor.tenantId, id, lock);
  }

  async #patient(tx: Tx, tenantId: TenantId, id: string): Promise<Patient> {
    const patient = await this.d.patients.get(tx, tenantId, id);
    if (patient.shredded) throw new AppError('shredded', 'the patient record was destroyed');
    return patient;
  }

  async #content(tx: Tx, tenantId: TenantId, fields: DraftFields): Promise<PrescriptionContent> {
    const { rxcui, ...rest } = fields;
    const drug = await this.d.drugs.get(tx, tenantId, rxcui);
    if (drug === undefined) {
      throw new AppError('validation_failed', 'unknown drug', { detail: 'rxcui' });
    }
    const content: PrescriptionContent = { ...rest, drug };
    validateContent(content, this.#limits);
    return content;
  }
}
