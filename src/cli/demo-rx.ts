/**
 * The prescribing part of `scrip demo seed`: a small drug catalog and a few prescriptions in
 * different states, made through the ordinary services so the demo shows a living system. The
 * catalog is the small RxNorm release shipped in `demo/rxnorm` (the tests' fixture too),
 * proposed by one clinic pharmacist and approved by a second one (change control), then a dose
 * limit and two formulary entries the same way. The prescriptions are drafted by the demo agent
 * and the demo prescriber; the signed one after a step-up bound to `rx.sign`, like the route.
 */
import type { Clock, TenantId } from '../core/index.js';
import { AppError } from '../core/index.js';
import { packagePath } from '../db/index.js';
import {
  decodeBase32Strict,
  permissionsFor,
  totp,
  type Caller,
  type Identity,
} from '../identity/index.js';
import type {
  ChangeControlService,
  ChangeProposal,
} from '../prescribing/change-control.service.js';
import type { CatalogChange, FormularyChange } from '../prescribing/catalog-change.applier.js';
import { proposeRxNormImport } from '../prescribing/drug-import.js';
import type { Patients, PatientActor } from '../prescribing/index.js';
import type { Prescriptions } from '../prescribing/prescription.module.js';
import type { DraftInput } from '../prescribing/prescription.service.js';
import { RX_SIGN_ACTION } from '../prescribing/prescription-signing.js';
import type { Actor, Prescription, PrescriptionStatus } from '../prescribing/prescription.types.js';

/** The demo RxNorm release (RRF files), part of the repository. */
export function demoRxNormDir(): string {
  return packagePath('demo', 'rxnorm');
}

export interface DemoCatalog {
  /** The change proposals, all applied: the import, the dose limit, the formulary. */
  readonly proposalIds: readonly string[];
  readonly drugs: number;
}

export interface DemoPrescription {
  readonly id: string;
  readonly patientId: string;
  readonly status: PrescriptionStatus;
  readonly drug: string;
}

interface Person {
  readonly caller: Caller;
  readonly totpSecret: string;
}

const RX = {
  acetaminophen: '313782',
  lisinopril: '314076',
  oxycodone: '1049621',
} as const;

/** Approves `proposal` as a second person (so it is applied: the demo's changes are due at once). */
export async function twoPerson(
  changes: Pick<ChangeControlService, 'approve'>,
  tenantId: TenantId,
  approver: Pick<Caller, 'userId' | 'sessionId'>,
  proposal: ChangeProposal,
): Promise<string> {
  const done = await changes.approve(
    tenantId,
    { userId: approver.userId, sessionId: approver.sessionId },
    proposal.id,
    'demo: reviewed',
  );
  if (done.status !== 'applied') throw new AppError('internal', 'demo change was not applied');
  return done.id;
}

export async function seedDemoCatalog(
  changes: ChangeControlService,
  tenantId: TenantId,
  proposer: Caller,
  approver: Caller,
): Promise<DemoCatalog> {
  const by = { userId: proposer.userId, sessionId: proposer.sessionId };
  const { proposal, release } = await proposeRxNormImport(changes, tenantId, by, demoRxNormDir());
  const ids = [await twoPerson(changes, tenantId, approver, proposal)];
  const limits: CatalogChange = {
    source: 'manual',
    upsert: [],
    retire: [],
    limits: [
      { rxcui: RX.acetaminophen, limits: { maxSingleDose: 1000, maxDailyDose: 4000, unit: 'mg' } },
      { rxcui: RX.oxycodone, limits: { maxSingleDose: null, maxDailyDose: 60, unit: 'mg' } },
    ],
  };
  ids.push(
    await twoPerson(
      changes,
      tenantId,
      approver,
      await changes.propose(tenantId, by, {
        kind: 'catalog',
        payload: limits,
        summary: 'Demo dose limits: acetaminophen 4 g a day, oxycodone 60 mg a day',
      }),
    ),
  );
  const formulary: FormularyChange = {
    entries: [
      { rxcui: RX.lisinopril, status: 'preferred', notes: 'Generic ACE inhibitor first' },
      { rxcui: RX.oxycodone, status: 'non_preferred', notes: 'Try non-opioid analgesia first' },
    ],
  };
  ids.push(
    await twoPerson(
      changes,
      tenantId,
      approver,
      await changes.propose(tenantId, by, {
        kind: 'formulary',
        payload: formulary,
        summary: 'Demo formulary: lisinopril preferred, oxycodone non-preferred',
      }),
    ),
  );
  return { proposalIds: ids, drugs: release.drugs.length };
}

const PRACTICE = {
  name: 'Demo Clinic',
  line: '100 Demo Plaza',
  city: 'Sacramento',
  state: 'CA',
  postalCode: '95814',
  phone: '555-010-0100',
};

function actor(c: Caller, role: 'prescriber' | 'prescriber_agent'): Actor {
  return {
    tenantId: c.tenantId,
    userId: c.userId,
    sessionId: c.sessionId,
    roles: [role],
    permissions: permissionsFor([role]),
  };
}

/** An order to the patient's preferred demo pharmacy (demo-patients.ts). */
function order(
  patientId: string,
  rxcui: string,
  days: number,
  quantity: number,
  sig: string,
  pharmacyNcpdpId = '0500001',
): DraftInput {
  return {
    patientId,
    rxcui,
    quantity: { value: quantity, unit: 'tablet' },
    daysSupply: days,
    sig,
    refills: 0,
    substitutionAllowed: true,
    pharmacyNcpdpId,
    practice: PRACTICE,
  };
}

export interface DemoRxDeps {
  readonly clock: Clock;
  readonly identity: Identity;
  readonly patientServices: Patients;
  readonly prescriptions: Prescriptions;
}

/**
 * Four prescriptions for the demo patients: a draft by the agent (for the prescriber), a ready
 * one, a signed (and queued) non-controlled one, and a cancelled one. The agent joins the care
 * teams first, through the ordinary care-team service.
 */
export async function seedDemoPrescriptions(
  deps: DemoRxDeps,
  tenantId: TenantId,
  prescriber: Person,
  agent: Caller,
  patientIds: readonly string[],
): Promise<DemoPrescription[]> {
  const [alex, sam, jordan] = patientIds;
  if (alex === undefined || sam === undefined || jordan === undefined) {
    throw new AppError('internal', 'the demo prescriptions need three demo patients');
  }
  const doc = actor(prescriber.caller, 'prescriber');
  const who: PatientActor = doc;
  const meta = {};
  const { service, signing } = deps.prescriptions;
  for (const id of patientIds) {
    await deps.patientServices.careTeam.add(
      who,
      id,
      { userId: agent.userId, relation: 'agent' },
      meta,
    );
  }
  const out: DemoPrescription[] = [];
  const note = (p: Prescription): void => {
    out.push({ id: p.id, patientId: p.patientId, status: p.status, drug: p.content.drug.name });
  };

  // 1. A draft prepared by the agent, for the prescriber to review.
  const drafted = await service.draft(
    actor(agent, 'prescriber_agent'),
    {
      ...order(sam, RX.acetaminophen, 10, 30, 'Take 1 tablet by mouth every 6 hours as needed'),
      prescriberId: prescriber.caller.userId,
    },
    meta,
  );
  note(drafted);

  // 2. Ready to sign.
  const toReady = await service.draft(
    doc,
    order(jordan, RX.lisinopril, 30, 30, 'Take 1 tablet by mouth once daily', '0500002'),
    meta,
  );
  note(await service.markReady(doc, toReady.id, {}, meta));

  // 3. Signed (non-controlled): ready, then a fresh step-up bound to rx.sign, consumed once.
  const toSign = await service.draft(
    doc,
    order(alex, RX.acetaminophen, 5, 20, 'Take 1 tablet by mouth every 6 hours as needed'),
    meta,
  );
  await service.markReady(doc, toSign.id, {}, meta);
  const secret = decodeBase32Strict(prescriber.totpSecret);
  if (secret === undefined) throw new AppError('internal', 'bad demo TOTP secret');
  // The next time step: the prescriber's enrolment used the current one.
  const code = totp(secret, deps.clock.now().getTime() + 30_000);
  await deps.identity.account.stepUp(prescriber.caller, RX_SIGN_ACTION, code, {});
  const consumed = await deps.identity.sessions.consumeStepUp(
    tenantId,
    prescriber.caller.sessionId,
    RX_SIGN_ACTION,
  );
  if (!consumed) throw new AppError('internal', 'demo step-up was not recorded');
  note((await signing.signNonControlled(doc, toSign.id, meta)).prescription);

  // 4. Cancelled: a duplicate of the patient's active lisinopril, withdrawn before signing.
  const duplicate = await service.draft(
    doc,
    order(alex, RX.lisinopril, 30, 30, 'Take 1 tablet by mouth once daily'),
    meta,
  );
  note(await service.cancel(doc, duplicate.id, meta));
  return out;
}
