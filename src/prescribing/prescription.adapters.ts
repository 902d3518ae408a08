import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { DrugCatalogRepository } from './drug-catalog.repository.js';
import type { PatientClinicalRepository } from './patient-clinical.repository.js';
import {
  runSafetyChecks,
  type SafetyDose,
  type SafetyFinding as CatalogFinding,
} from './safety-checks.js';
import type { DoseLimits } from './drug.js';
import { NO_INTERACTIONS, type InteractionTable } from './interaction-table.js';
import type {
  DrugLookup,
  DrugSnapshot,
  FindingSeverity,
  Quantity,
  SafetyChecker,
  SafetyFinding,
} from './prescription.types.js';

/**
 * The prescription module's drug port over the tenant's catalog: the active drug with that
 * RXCUI, as a snapshot (what the prescription records and signs).
 */
export const catalogDrugLookup: DrugLookup = {
  async get(tx: Tx, _tenantId: TenantId, rxcui: string): Promise<DrugSnapshot | undefined> {
    const drugs = await DrugCatalogRepository.findByCode(tx, rxcui);
    const d = drugs.find((x) => x.rxcui === rxcui && x.status === 'active');
    if (d === undefined) return undefined;
    const limits: Record<string, number> = {};
    for (const [k, v] of Object.entries(d.limits ?? {})) if (typeof v === 'number') limits[k] = v;
    return {
      rxcui: d.rxcui,
      name: d.name,
      strength: d.strength ?? '',
      doseForm: d.doseForm ?? '',
      route: d.route ?? '',
      ingredients: d.ingredients.map((i) => ({ rxcui: i.rxcui, name: i.name })),
      deaSchedule: d.deaSchedule,
      ...(Object.keys(limits).length === 0 ? {} : { limits }),
    };
  },
};

/** Catalog severities onto the prescriber-facing scale: anything but minor must be overridden. */
function severity(s: CatalogFinding['severity']): FindingSeverity {
  switch (s) {
    case 'contraindicated':
    case 'major':
      return 'high';
    case 'moderate':
      return 'warning';
    case 'minor':
      return 'info';
  }
}

/** Quantity units that are one dosage unit each (a tablet holds the drug's strength). */
const DOSAGE_UNIT = /^(tablets?|capsules?|each|patch(es)?|suppositor(y|ies)|lozenges?|films?)$/i;

/**
 * The average daily dose a prescription orders, for the catalog's daily limit: the quantity over
 * the days supply, in the limit's unit when the quantity is in it or is counted in dosage units
 * of a single-strength drug ("5 MG" x tablets). The directions are free text, so a single dose
 * is not known and only the daily maximum is checked. In another unit the dose is passed as is
 * and the check reports that it could not compare.
 */
export function averageDailyDose(
  drug: Pick<DrugSnapshot, 'strength'>,
  limits: DoseLimits,
  quantity: Quantity,
  daysSupply: number,
): SafetyDose | undefined {
  if (!(daysSupply > 0) || !(quantity.value > 0)) return undefined;
  const perDay = quantity.value / daysSupply;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  const unit = limits.unit.trim().toLowerCase();
  if (quantity.unit.trim().toLowerCase() === unit)
    return { amount: round(perDay), unit: limits.unit };
  const m = /^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)$/.exec(drug.strength.trim());
  if (m !== null && m[2]?.toLowerCase() === unit && DOSAGE_UNIT.test(quantity.unit.trim())) {
    return { amount: round(perDay * Number(m[1])), unit: limits.unit };
  }
  return { amount: round(perDay), unit: quantity.unit };
}

/**
 * The safety-check port over the catalog's checks (drug-allergy, duplicate therapy,
 * interactions from the operator's table, dose range), with the patient's allergies and active
 * medications read in the caller's transaction (which already passed the relationship check).
 */
/** Shown to the prescriber when no interaction table is configured (screening is off). */
export const INTERACTIONS_NOT_CONFIGURED: SafetyFinding = {
  kind: 'interaction',
  severity: 'info',
  message: 'interaction table not configured: drug-drug interactions were not checked',
};

export function catalogSafetyChecker(
  clinical: Pick<PatientClinicalRepository, 'safetyProfile'>,
  interactions: InteractionTable,
): SafetyChecker {
  return {
    async check(input): Promise<readonly SafetyFinding[]> {
      const profile = await clinical.safetyProfile(input.tx, input.tenantId, input.patientId);
      const drugRow = (await DrugCatalogRepository.findByCode(input.tx, input.drug.rxcui)).find(
        (d) => d.rxcui === input.drug.rxcui,
      );
      const limits = drugRow?.limits ?? null;
      const daily =
        limits === null || limits.maxDailyDose === null
          ? null
          : { maxSingleDose: null, maxDailyDose: limits.maxDailyDose, unit: limits.unit };
      const findings = runSafetyChecks({
        drug: {
          rxcui: input.drug.rxcui,
          name: input.drug.name,
          ingredients: input.drug.ingredients,
          limits: daily,
        },
        dose:
          daily === null
            ? undefined
            : averageDailyDose(input.drug, daily, input.quantity, input.daysSupply),
        allergies: profile.allergies.map((a) => ({ ingredientRxcui: a.rxcui, name: a.substance })),
        activeMedications: profile.activeMedications.map((m) => ({
          rxcui: m.rxcui,
          ingredients: m.ingredientRxcuis.map((rxcui) => ({ rxcui })),
        })),
        interactions,
      });
      return [
        ...findings.map((f) => ({
          kind: f.kind,
          severity: severity(f.severity),
          message: f.message,
        })),
        ...(interactions === NO_INTERACTIONS ? [INTERACTIONS_NOT_CONFIGURED] : []),
      ];
    },
  };
}
