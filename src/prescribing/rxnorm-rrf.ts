import { join } from 'node:path';
import {
  deaScheduleFromDcsa,
  stricterSchedule,
  type DeaSchedule,
  type DrugRecord,
  type Ingredient,
} from './drug.js';
import { readRrf, rrfError, RXNCONSO, RXNREL, RXNSAT } from './rrf-reader.js';

/**
 * Reads an RxNorm release the operator downloaded (RXNCONSO, RXNSAT, RXNREL) into catalog drug
 * records: the prescribable concepts (TTY SCD and SBD, SAB=RXNORM, not suppressed) with their
 * ingredients (TTY IN, through has_ingredient/ingredient_of directly or through the SCDC/SBDC
 * components, and for a branded drug through its clinical drug), dose form (has_dose_form), NDCs
 * (ATN=NDC, SAB=RXNORM: already 11-digit) and DEA schedule (ATN=DCSA, the most restrictive
 * value any source asserts). Term types and relationships per the RxNorm Technical Documentation
 * (§6 term types, Appendix 1 relationships, Appendix 4 attributes).
 *
 * Relationship direction is not trusted: each link is read as a pair and oriented by the term
 * types of its two ends, so has_ingredient and ingredient_of rows both work.
 */
export interface RxNormImport {
  readonly drugs: DrugRecord[];
  /** Prescribable concepts the release marks obsolete (SUPPRESS=O): retired if catalogued. */
  readonly retire: string[];
  readonly skipped: { readonly noIngredients: number; readonly scheduleI: number };
}

const DRUG_TTYS = new Set(['SCD', 'SBD']);
const COMPONENT_TTYS = new Set(['SCDC', 'SBDC']);
const CONCEPT_TTYS = new Set(['SCD', 'SBD', 'SCDC', 'SBDC', 'IN', 'DF']);
const INGREDIENT_RELAS = new Set(['has_ingredient', 'ingredient_of']);
const COMPONENT_RELAS = new Set(['consists_of', 'constitutes']);
const FORM_RELAS = new Set(['has_dose_form', 'dose_form_of']);
const TRADENAME_RELAS = new Set(['tradename_of', 'has_tradename']);

interface Concept {
  tty: string;
  name: string;
  obsolete: boolean;
}

/** Route from the leading words of an RxNorm dose form name ("Oral Tablet" → oral). */
const ROUTES: readonly (readonly [RegExp, string])[] = [
  [/^oral|^chewable|^disintegrating|^sublingual|^buccal/i, 'oral'],
  [/^inject|^prefilled syringe|^cartridge|^auto-injector/i, 'injection'],
  [/^transdermal/i, 'transdermal'],
  [/^topical/i, 'topical'],
  [/^nasal/i, 'nasal'],
  [/^ophthalmic/i, 'ophthalmic'],
  [/^otic/i, 'otic'],
  [/^rectal/i, 'rectal'],
  [/^vaginal/i, 'vaginal'],
  [/^inhal|^metered dose inhaler|^dry powder inhaler/i, 'inhalation'],
];

export function routeOfDoseForm(doseForm: string | null): string | null {
  if (doseForm === null) return null;
  for (const [re, route] of ROUTES) if (re.test(doseForm)) return route;
  return null;
}

function link(map: Map<string, Set<string>>, from: string, to: string): void {
  let set = map.get(from);
  if (set === undefined) map.set(from, (set = new Set()));
  set.add(to);
}

/** Reads the three files of the release in `dir` (streaming; concepts first). */
export async function readRxNormRelease(dir: string): Promise<RxNormImport> {
  const concepts = new Map<string, Concept>();
  for await (const r of readRrf(join(dir, RXNCONSO.file), RXNCONSO)) {
    const tty = r.get('TTY');
    if (r.get('SAB') !== 'RXNORM' || !CONCEPT_TTYS.has(tty)) continue;
    const rxcui = r.get('RXCUI');
    if (!/^[0-9]{1,12}$/.test(rxcui)) throw rrfError(RXNCONSO.file, r.line, 'RXCUI is not numeric');
    const name = r.get('STR').trim();
    if (name === '') throw rrfError(RXNCONSO.file, r.line, 'STR is empty');
    const suppress = r.get('SUPPRESS');
    if (!['N', 'O', 'Y', 'E', ''].includes(suppress)) {
      throw rrfError(RXNCONSO.file, r.line, 'SUPPRESS is not one of N, O, Y, E');
    }
    concepts.set(rxcui, { tty, name, obsolete: suppress !== 'N' && suppress !== '' });
  }

  const ndcs = new Map<string, Set<string>>();
  const strengths = new Map<string, string>();
  const schedules = new Map<string, DeaSchedule | null>();
  const scheduleI = new Set<string>();
  for await (const r of readRrf(join(dir, RXNSAT.file), RXNSAT)) {
    const rxcui = r.get('RXCUI');
    const concept = concepts.get(rxcui);
    if (concept === undefined || !DRUG_TTYS.has(concept.tty)) continue;
    const atn = r.get('ATN');
    const atv = r.get('ATV');
    if (atn === 'NDC' && r.get('SAB') === 'RXNORM') {
      if (!/^[0-9]{11}$/.test(atv)) throw rrfError(RXNSAT.file, r.line, 'NDC is not 11 digits');
      if (r.get('SUPPRESS') !== 'O') link(ndcs, rxcui, atv);
    } else if (atn === 'DCSA') {
      const s = deaScheduleFromDcsa(atv);
      if (s === undefined) throw rrfError(RXNSAT.file, r.line, 'DCSA is not a DEA schedule');
      if (s === 'CI') scheduleI.add(rxcui);
      else schedules.set(rxcui, stricterSchedule(schedules.get(rxcui) ?? null, s));
    } else if (atn === 'RXN_AVAILABLE_STRENGTH' && r.get('SAB') === 'RXNORM') {
      strengths.set(rxcui, atv.trim());
    }
  }

  const ingredientsOf = new Map<string, Set<string>>();
  const componentsOf = new Map<string, Set<string>>();
  const formOf = new Map<string, string>();
  const clinicalOf = new Map<string, Set<string>>();
  const brandsOf = new Map<string, Set<string>>();
  const ttyOf = (rxcui: string): string | undefined => concepts.get(rxcui)?.tty;
  for await (const r of readRrf(join(dir, RXNREL.file), RXNREL)) {
    if (r.get('SAB') !== 'RXNORM') continue;
    const rela = r.get('RELA');
    const a = r.get('RXCUI1');
    const b = r.get('RXCUI2');
    const ta = ttyOf(a);
    const tb = ttyOf(b);
    if (ta === undefined || tb === undefined) continue;
    if (INGREDIENT_RELAS.has(rela)) {
      if (tb === 'IN' && ta !== 'IN') link(ingredientsOf, a, b);
      else if (ta === 'IN' && tb !== 'IN') link(ingredientsOf, b, a);
    } else if (COMPONENT_RELAS.has(rela)) {
      if (DRUG_TTYS.has(ta) && COMPONENT_TTYS.has(tb)) link(componentsOf, a, b);
      else if (DRUG_TTYS.has(tb) && COMPONENT_TTYS.has(ta)) link(componentsOf, b, a);
    } else if (FORM_RELAS.has(rela)) {
      if (DRUG_TTYS.has(ta) && tb === 'DF') formOf.set(a, b);
      else if (DRUG_TTYS.has(tb) && ta === 'DF') formOf.set(b, a);
    } else if (TRADENAME_RELAS.has(rela)) {
      const [sbd, scd] =
        ta === 'SBD' && tb === 'SCD' ? [a, b] : tb === 'SBD' && ta === 'SCD' ? [b, a] : [];
      if (sbd !== undefined && scd !== undefined) {
        link(clinicalOf, sbd, scd);
        link(brandsOf, scd, sbd);
      }
    }
  }

  const ingredientCuis = (rxcui: string): Set<string> => {
    const out = new Set(ingredientsOf.get(rxcui) ?? []);
    for (const c of componentsOf.get(rxcui) ?? [])
      for (const i of ingredientsOf.get(c) ?? []) out.add(i);
    return out;
  };

  const drugs: DrugRecord[] = [];
  const retire: string[] = [];
  let noIngredients = 0;
  let scheduleIDrugs = 0;
  for (const [rxcui, c] of concepts) {
    if (!DRUG_TTYS.has(c.tty)) continue;
    if (c.obsolete) {
      retire.push(rxcui);
      continue;
    }
    let cuis = ingredientCuis(rxcui);
    let schedule = schedules.get(rxcui) ?? null;
    let banned = scheduleI.has(rxcui);
    for (const scd of clinicalOf.get(rxcui) ?? []) {
      if (cuis.size === 0) cuis = ingredientCuis(scd);
    }
    // A schedule asserted for the clinical drug or any of its brands holds for all of them.
    for (const other of [...(clinicalOf.get(rxcui) ?? []), ...(brandsOf.get(rxcui) ?? [])]) {
      schedule = stricterSchedule(schedule, schedules.get(other) ?? null);
      banned ||= scheduleI.has(other);
    }
    if (banned) {
      scheduleIDrugs += 1;
      continue;
    }
    const ingredients: Ingredient[] = [...cuis]
      .sort((x, y) => Number(x) - Number(y))
      .map((i) => ({ rxcui: i, name: concepts.get(i)?.name ?? i }));
    if (ingredients.length === 0) {
      noIngredients += 1;
      continue;
    }
    const form = formOf.get(rxcui);
    const doseForm = form === undefined ? null : (concepts.get(form)?.name ?? null);
    drugs.push({
      rxcui,
      tty: c.tty,
      name: c.name,
      strength: strengths.get(rxcui) ?? null,
      doseForm,
      route: routeOfDoseForm(doseForm),
      ingredients,
      ndcs: [...(ndcs.get(rxcui) ?? [])].sort(),
      deaSchedule: schedule,
    });
  }
  drugs.sort((x, y) => Number(x.rxcui) - Number(y.rxcui));
  retire.sort((x, y) => Number(x) - Number(y));
  return { drugs, retire, skipped: { noIngredients, scheduleI: scheduleIDrugs } };
}
