import { randomUUID } from 'node:crypto';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { ChangeApplier, ChangeApplyContext } from './change-control.service.js';
import { DoseLimitsSchema, DrugRecordSchema, Rxcui, type DoseLimits } from './drug.js';
import { DRUG_COLUMNS, drugFromRow, type DrugRow } from './drug-catalog.repository.js';

/**
 * The `catalog` and `formulary` kinds of change control. A catalog change upserts drug records
 * (an RxNorm import or a manual edit), sets dose-range limits, and retires drugs; every drug it
 * changes keeps its previous state in `drug_history` under the new catalog version, so any
 * earlier catalog can be reconstructed (45 CFR 164.312(c)(1)).
 */
export const CatalogChangeSchema = Type.Object(
  {
    source: Type.Union([Type.Literal('rxnorm'), Type.Literal('manual')]),
    upsert: Type.Array(DrugRecordSchema, { maxItems: 500_000 }),
    retire: Type.Array(Rxcui, { maxItems: 500_000 }),
    limits: Type.Array(
      Type.Object(
        { rxcui: Rxcui, limits: Type.Union([DoseLimitsSchema, Type.Null()]) },
        { additionalProperties: false },
      ),
      { maxItems: 100_000 },
    ),
  },
  { additionalProperties: false },
);
export type CatalogChange = Static<typeof CatalogChangeSchema>;

export const FormularyChangeSchema = Type.Object(
  {
    entries: Type.Array(
      Type.Object(
        {
          rxcui: Rxcui,
          status: Type.Union([
            Type.Literal('preferred'),
            Type.Literal('non_preferred'),
            Type.Literal('not_covered'),
          ]),
          notes: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100_000 },
    ),
  },
  { additionalProperties: false },
);
export type FormularyChange = Static<typeof FormularyChangeSchema>;

function check<T extends TSchema>(schema: T, payload: unknown, what: string): Static<T> {
  if (Value.Check(schema, payload)) return payload;
  const first = Value.Errors(schema, payload).First();
  const path = first === undefined || first.path === '' ? '/' : first.path;
  throw new AppError('validation_failed', `${what} payload is invalid at ${path}`, {
    detail: path,
  });
}

function unique(values: readonly string[], what: string): void {
  if (new Set(values).size !== values.length) {
    throw new AppError('validation_failed', `${what} lists an RXCUI twice`, { detail: what });
  }
}

function checkLimits(l: DoseLimits | null | undefined): void {
  if (l !== null && l !== undefined && l.maxSingleDose === null && l.maxDailyDose === null) {
    throw new AppError('validation_failed', 'limits need a single or a daily maximum', {
      detail: 'limits',
    });
  }
}

/** The comparable state of a drug (fixed key order, so JSON equality is state equality). */
interface State {
  rxcui: string;
  tty: string;
  name: string;
  strength: string | null;
  doseForm: string | null;
  route: string | null;
  ingredients: { rxcui: string; name: string }[];
  ndcs: string[];
  deaSchedule: string | null;
  limits: DoseLimits | null;
  status: 'active' | 'retired';
}

interface Existing {
  id: string;
  version: number;
  state: State;
}

function stateOf(row: DrugRow): State {
  const d = drugFromRow(row);
  return {
    rxcui: d.rxcui,
    tty: d.tty,
    name: d.name,
    strength: d.strength,
    doseForm: d.doseForm,
    route: d.route,
    ingredients: d.ingredients.map((i) => ({ rxcui: i.rxcui, name: i.name })),
    ndcs: [...d.ndcs],
    deaSchedule: d.deaSchedule,
    limits: d.limits,
    status: d.status,
  };
}

interface Plan {
  added: State[];
  changed: { existing: Existing; next: State }[];
  unchanged: number;
  missing: number;
}

async function plan(tx: Tx, change: CatalogChange): Promise<Plan> {
  const { rows } = await tx.query<DrugRow>(`SELECT ${DRUG_COLUMNS} FROM drugs`);
  const existing = new Map<string, Existing>(
    rows.map((r) => [r.rxcui, { id: r.id, version: r.version, state: stateOf(r) }]),
  );
  const next = new Map<string, State>();
  const current = (rxcui: string): State | undefined =>
    next.get(rxcui) ?? existing.get(rxcui)?.state;
  for (const d of change.upsert) {
    const before = current(d.rxcui);
    next.set(d.rxcui, {
      rxcui: d.rxcui,
      tty: d.tty,
      name: d.name,
      strength: d.strength,
      doseForm: d.doseForm,
      route: d.route,
      ingredients: d.ingredients.map((i) => ({ rxcui: i.rxcui, name: i.name })),
      ndcs: [...new Set(d.ndcs)].sort(),
      deaSchedule: d.deaSchedule,
      limits: d.limits === undefined ? (before?.limits ?? null) : d.limits,
      status: 'active',
    });
  }
  let missing = 0;
  for (const l of change.limits) {
    const before = current(l.rxcui);
    if (before === undefined) missing += 1;
    else next.set(l.rxcui, { ...before, limits: l.limits });
  }
  for (const rxcui of change.retire) {
    const before = current(rxcui);
    if (before === undefined) missing += 1;
    else next.set(rxcui, { ...before, status: 'retired' });
  }
  const out: Plan = { added: [], changed: [], unchanged: 0, missing };
  for (const [rxcui, state] of next) {
    const e = existing.get(rxcui);
    if (e === undefined) out.added.push(state);
    else if (JSON.stringify(e.state) === JSON.stringify(state)) out.unchanged += 1;
    else out.changed.push({ existing: e, next: state });
  }
  return out;
}

function recordOf(id: string, s: State): Record<string, unknown> {
  return {
    id,
    rxcui: s.rxcui,
    tty: s.tty,
    name: s.name,
    strength: s.strength,
    dose_form: s.doseForm,
    route: s.route,
    ingredients: s.ingredients,
    ndcs: s.ndcs,
    dea_schedule: s.deaSchedule,
    max_single_dose: s.limits?.maxSingleDose ?? null,
    max_daily_dose: s.limits?.maxDailyDose ?? null,
    dose_unit: s.limits?.unit ?? null,
    status: s.status,
  };
}

const RECORDSET = `jsonb_to_recordset($1::jsonb) AS x(id uuid, rxcui text, tty text, name text,
  strength text, dose_form text, route text, ingredients jsonb, ndcs jsonb, dea_schedule text,
  max_single_dose numeric, max_daily_dose numeric, dose_unit text, status text)`;
const CHUNK = 1000;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

async function write(tx: Tx, p: Plan, ctx: ChangeApplyContext): Promise<void> {
  for (const part of chunks(p.added)) {
    await tx.query(
      `INSERT INTO drugs (id, tenant_id, rxcui, tty, name, strength, dose_form, route, ingredients,
                          ingredient_rxcuis, ndcs, dea_schedule, max_single_dose, max_daily_dose,
                          dose_unit, status, version, updated_at)
       SELECT x.id, $2, x.rxcui, x.tty, x.name, x.strength, x.dose_form, x.route, x.ingredients,
              ARRAY(SELECT e->>'rxcui' FROM jsonb_array_elements(x.ingredients) e),
              ARRAY(SELECT jsonb_array_elements_text(x.ndcs)), x.dea_schedule, x.max_single_dose,
              x.max_daily_dose, x.dose_unit, x.status, $3, $4
         FROM ${RECORDSET}`,
      [
        JSON.stringify(part.map((s) => recordOf(randomUUID(), s))),
        ctx.tenantId,
        ctx.version,
        ctx.now,
      ],
    );
  }
  for (const part of chunks(p.changed)) {
    await tx.query(
      `INSERT INTO drug_history (tenant_id, drug_id, version, superseded_by, state, superseded_at)
       SELECT $2, h.drug_id, h.version, $3, h.state, $4
         FROM jsonb_to_recordset($1::jsonb) AS h(drug_id uuid, version integer, state jsonb)`,
      [
        JSON.stringify(
          part.map((c) => ({
            drug_id: c.existing.id,
            version: c.existing.version,
            state: c.existing.state,
          })),
        ),
        ctx.tenantId,
        ctx.version,
        ctx.now,
      ],
    );
    await tx.query(
      `UPDATE drugs d SET tty = x.tty, name = x.name, strength = x.strength, dose_form = x.dose_form,
              route = x.route, ingredients = x.ingredients,
              ingredient_rxcuis = ARRAY(SELECT e->>'rxcui' FROM jsonb_array_elements(x.ingredients) e),
              ndcs = ARRAY(SELECT jsonb_array_elements_text(x.ndcs)), dea_schedule = x.dea_schedule,
              max_single_dose = x.max_single_dose, max_daily_dose = x.max_daily_dose,
              dose_unit = x.dose_unit, status = x.status, version = $2, updated_at = $3
         FROM ${RECORDSET} WHERE d.id = x.id`,
      [JSON.stringify(part.map((c) => recordOf(c.existing.id, c.next))), ctx.version, ctx.now],
    );
  }
}

export const catalogApplier: ChangeApplier = {
  kind: 'catalog',
  validate(payload) {
    const c = check(CatalogChangeSchema, payload, 'catalog');
    unique(
      c.upsert.map((d) => d.rxcui),
      'upsert',
    );
    unique(c.retire, 'retire');
    unique(
      c.limits.map((l) => l.rxcui),
      'limits',
    );
    for (const d of c.upsert) checkLimits(d.limits);
    for (const l of c.limits) checkLimits(l.limits);
  },
  async preview(tx, payload) {
    const p = await plan(tx, payload as CatalogChange);
    return {
      added: p.added.length,
      changed: p.changed.length,
      unchanged: p.unchanged,
      missing: p.missing,
      changedRxcuis: p.changed
        .slice(0, 50)
        .map((c) => c.next.rxcui)
        .join(','),
    };
  },
  async apply(tx, payload, ctx) {
    const p = await plan(tx, payload as CatalogChange);
    await write(tx, p, ctx);
    return {
      added: p.added.length,
      changed: p.changed.length,
      unchanged: p.unchanged,
      missing: p.missing,
    };
  },
};

export const formularyApplier: ChangeApplier = {
  kind: 'formulary',
  validate(payload) {
    const f = check(FormularyChangeSchema, payload, 'formulary');
    unique(
      f.entries.map((e) => e.rxcui),
      'entries',
    );
  },
  async apply(tx, payload, ctx) {
    const f = payload as FormularyChange;
    for (const part of chunks(f.entries)) {
      await tx.query(
        `INSERT INTO formulary_entries (tenant_id, rxcui, version, status, notes, effective_from)
         SELECT $2, e.rxcui, $3, e.status, e.notes, $4
           FROM jsonb_to_recordset($1::jsonb) AS e(rxcui text, status text, notes text)`,
        [JSON.stringify(part), ctx.tenantId, ctx.version, ctx.now],
      );
    }
    return { entries: f.entries.length };
  },
};
