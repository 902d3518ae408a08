import type { Tx } from '../db/index.js';
import type { DoseLimits, Ingredient } from './drug.js';
import { DrugCatalogRepository } from './drug-catalog.repository.js';
import { NO_INTERACTIONS, type InteractionTable } from './interaction-table.js';

/**
 * Safety checks run before signing (issue 7 item 4; ISMP and Joint Commission NPSG.03.06.01
 * medication-safety practice): drug-allergy, duplicate therapy, drug-drug interactions from the
 * operator's table, and dose-range limits where the catalog has them. Pure functions over their
 * input; the prescription service shows the findings to the prescriber, who may override each
 * with a recorded reason. Messages name drugs and codes only, never the patient (no PHI), so a
 * finding may be logged or audited by code.
 */
export type FindingKind = 'drug_allergy' | 'duplicate_therapy' | 'interaction' | 'dose_range';
export type FindingSeverity = 'contraindicated' | 'major' | 'moderate' | 'minor';

export interface SafetyFinding {
  readonly kind: FindingKind;
  readonly severity: FindingSeverity;
  readonly message: string;
  /** The RxNorm codes involved (ingredient RXCUIs, and the other medication's RXCUI if known). */
  readonly codes: readonly string[];
}

/** The drug being prescribed, as the catalog holds it. */
export interface SafetyDrug {
  readonly rxcui: string;
  readonly name: string;
  readonly ingredients: readonly Ingredient[];
  readonly limits: DoseLimits | null;
}

/** A recorded allergy: coded by ingredient RXCUI where possible, else its free-text name. */
export interface SafetyAllergy {
  readonly ingredientRxcui?: string | null | undefined;
  readonly name?: string | null | undefined;
}

/** An active medication of the patient, as ingredients. */
export interface SafetyMedication {
  readonly rxcui?: string | null | undefined;
  readonly ingredients: readonly { readonly rxcui: string; readonly name?: string | undefined }[];
}

/** The dose: `amount` in `unit` per administration, `timesPerDay` administrations a day. */
export interface SafetyDose {
  readonly amount: number;
  readonly unit: string;
  readonly timesPerDay?: number | undefined;
}

export interface SafetyInput {
  readonly drug: SafetyDrug;
  readonly allergies: readonly SafetyAllergy[];
  readonly activeMedications: readonly SafetyMedication[];
  readonly dose?: SafetyDose | undefined;
  readonly interactions?: InteractionTable | undefined;
}

const RANK: Record<FindingSeverity, number> = {
  contraindicated: 0,
  major: 1,
  moderate: 2,
  minor: 3,
};

const words = (s: string): string =>
  ` ${s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()} `;

/** Whole-word containment either way ("oxycodone" ~ "oxycodone hydrochloride"). */
function namesMatch(allergy: string, ingredient: string): boolean {
  const a = words(allergy);
  const i = words(ingredient);
  if (a.trim().length < 3 || i.trim().length < 3) return false;
  return i.includes(a) || a.includes(i);
}

const label = (i: Ingredient): string => `${i.name} (RxCUI ${i.rxcui})`;

/** Drug-allergy: a coded allergy to one of the drug's ingredients, or a matching allergy name. */
export function checkDrugAllergy(
  drug: SafetyDrug,
  allergies: readonly SafetyAllergy[],
): SafetyFinding[] {
  const out: SafetyFinding[] = [];
  for (const ing of drug.ingredients) {
    const coded = allergies.some((a) => a.ingredientRxcui === ing.rxcui);
    const named =
      !coded &&
      allergies.some(
        (a) => typeof a.name === 'string' && a.name.trim() !== '' && namesMatch(a.name, ing.name),
      );
    if (!coded && !named) continue;
    out.push({
      kind: 'drug_allergy',
      severity: 'major',
      message: coded
        ? `${drug.name} contains ${label(ing)}, a recorded allergy`
        : `${drug.name} contains ${label(ing)}, which matches the name of a recorded allergy`,
      codes: [ing.rxcui],
    });
  }
  return out;
}

/** Duplicate therapy: an ingredient of the drug is already in an active medication. */
export function checkDuplicateTherapy(
  drug: SafetyDrug,
  active: readonly SafetyMedication[],
): SafetyFinding[] {
  const out: SafetyFinding[] = [];
  const seen = new Set<string>();
  for (const med of active) {
    const medCuis = new Set(med.ingredients.map((i) => i.rxcui));
    for (const ing of drug.ingredients) {
      if (!medCuis.has(ing.rxcui) || seen.has(ing.rxcui)) continue;
      seen.add(ing.rxcui);
      out.push({
        kind: 'duplicate_therapy',
        severity: 'moderate',
        message: `${label(ing)} is already in an active medication`,
        codes: [ing.rxcui, ...(typeof med.rxcui === 'string' ? [med.rxcui] : [])],
      });
    }
  }
  return out;
}

/** Interactions between the drug's ingredients and those of active medications. */
export function checkInteractions(
  drug: SafetyDrug,
  active: readonly SafetyMedication[],
  table: InteractionTable,
): SafetyFinding[] {
  const out: SafetyFinding[] = [];
  const seen = new Set<string>();
  for (const med of active) {
    for (const other of med.ingredients) {
      for (const ing of drug.ingredients) {
        if (ing.rxcui === other.rxcui) continue; // duplicate therapy, not an interaction
        for (const x of table.between(ing.rxcui, other.rxcui)) {
          const key = `${x.a}|${x.b}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({
            kind: 'interaction',
            severity: x.severity,
            message: `${label(ing)} with RxCUI ${other.rxcui} in an active medication: ${x.description}`,
            codes: [ing.rxcui, other.rxcui],
          });
        }
      }
    }
  }
  return out;
}

/** Dose-range: above the catalog's single or daily maximum; a different unit cannot be checked. */
export function checkDoseRange(drug: SafetyDrug, dose: SafetyDose | undefined): SafetyFinding[] {
  const limits = drug.limits;
  if (limits === null || dose === undefined) return [];
  if (!Number.isFinite(dose.amount) || dose.amount <= 0) {
    throw new TypeError('dose amount must be a positive number');
  }
  const times = dose.timesPerDay ?? 1;
  if (!Number.isFinite(times) || times <= 0) throw new TypeError('timesPerDay must be positive');
  if (dose.unit.trim().toLowerCase() !== limits.unit.trim().toLowerCase()) {
    return [
      {
        kind: 'dose_range',
        severity: 'minor',
        message: `the dose unit differs from the catalog's limit unit (${limits.unit}); the dose range was not checked`,
        codes: [drug.rxcui],
      },
    ];
  }
  const out: SafetyFinding[] = [];
  if (limits.maxSingleDose !== null && dose.amount > limits.maxSingleDose) {
    out.push({
      kind: 'dose_range',
      severity: 'major',
      message: `${String(dose.amount)} ${limits.unit} per dose exceeds the maximum single dose of ${String(limits.maxSingleDose)} ${limits.unit}`,
      codes: [drug.rxcui],
    });
  }
  const daily = dose.amount * times;
  if (limits.maxDailyDose !== null && daily > limits.maxDailyDose) {
    out.push({
      kind: 'dose_range',
      severity: 'major',
      message: `${String(daily)} ${limits.unit} a day exceeds the maximum daily dose of ${String(limits.maxDailyDose)} ${limits.unit}`,
      codes: [drug.rxcui],
    });
  }
  return out;
}

/** Every check, most severe findings first. */
export function runSafetyChecks(input: SafetyInput): SafetyFinding[] {
  const findings = [
    ...checkDrugAllergy(input.drug, input.allergies),
    ...checkInteractions(
      input.drug,
      input.activeMedications,
      input.interactions ?? NO_INTERACTIONS,
    ),
    ...checkDuplicateTherapy(input.drug, input.activeMedications),
    ...checkDoseRange(input.drug, input.dose),
  ];
  return findings
    .map((f, i) => ({ f, i }))
    .sort((x, y) => RANK[x.f.severity] - RANK[y.f.severity] || x.i - y.i)
    .map((x) => x.f);
}

/**
 * The thin loader: the catalog's view of a drug (by catalog id) for {@link runSafetyChecks}, in
 * the caller's tenant transaction. Another tenant's or a missing id is `not_found`.
 */
export async function loadSafetyDrug(tx: Tx, drugId: string): Promise<SafetyDrug> {
  const d = await DrugCatalogRepository.get(tx, drugId);
  return { rxcui: d.rxcui, name: d.name, ingredients: d.ingredients, limits: d.limits };
}
