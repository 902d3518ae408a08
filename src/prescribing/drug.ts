import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../core/index.js';

/**
 * The drug record shared by the RxNorm import, catalog change proposals and the safety checks.
 * Codes: RxNorm concept ids (RXCUI) and 11-digit NDCs (the HIPAA 5-4-2 form, as RxNorm normalises
 * them, RxNorm Technical Documentation Appendix 4, ATN=NDC). DEA schedules per 21 CFR 1308.12-.15.
 */
export const DEA_SCHEDULES = ['CII', 'CIII', 'CIV', 'CV'] as const;
export type DeaSchedule = (typeof DEA_SCHEDULES)[number];

export const Rxcui = Type.String({ pattern: '^[0-9]{1,12}$' });
export const Ndc11 = Type.String({ pattern: '^[0-9]{11}$' });

export const IngredientSchema = Type.Object(
  { rxcui: Rxcui, name: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);
export type Ingredient = Static<typeof IngredientSchema>;

/** Dose-range limits where known: one administration and one day, in `unit` (e.g. `mg`). */
export const DoseLimitsSchema = Type.Object(
  {
    maxSingleDose: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
    maxDailyDose: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
    unit: Type.String({ minLength: 1, maxLength: 40 }),
  },
  { additionalProperties: false },
);
export type DoseLimits = Static<typeof DoseLimitsSchema>;

const NullableText = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);

export const DrugRecordSchema = Type.Object(
  {
    rxcui: Rxcui,
    tty: Type.String({ pattern: '^[A-Z]{2,8}$' }),
    name: Type.String({ minLength: 1, maxLength: 3000 }),
    strength: NullableText(500),
    doseForm: NullableText(200),
    route: NullableText(100),
    ingredients: Type.Array(IngredientSchema, { minItems: 1, maxItems: 50 }),
    ndcs: Type.Array(Ndc11, { maxItems: 5000 }),
    deaSchedule: Type.Union([...DEA_SCHEDULES.map((s) => Type.Literal(s)), Type.Null()]),
    /** Absent: keep the limits the catalog has; null: remove them. */
    limits: Type.Optional(Type.Union([DoseLimitsSchema, Type.Null()])),
  },
  { additionalProperties: false },
);
export type DrugRecord = Static<typeof DrugRecordSchema>;

/** A drug as the catalog holds it. */
export interface Drug {
  readonly id: string;
  readonly rxcui: string;
  readonly tty: string;
  readonly name: string;
  readonly strength: string | null;
  readonly doseForm: string | null;
  readonly route: string | null;
  readonly ingredients: readonly Ingredient[];
  readonly ndcs: readonly string[];
  readonly deaSchedule: DeaSchedule | null;
  readonly limits: DoseLimits | null;
  readonly status: 'active' | 'retired';
  readonly version: number;
  readonly updatedAt: Date;
}

/**
 * Normalises an NDC to the 11-digit 5-4-2 form: 11 digits as they are; a hyphenated 10-digit
 * code in any of the FDA's three layouts (4-4-2, 5-3-2, 5-4-1) padded in the short segment. A bare
 * 10-digit code is ambiguous (which segment is short?) and refused, like anything else.
 */
export function normalizeNdc(input: string): string {
  const s = input.trim();
  if (/^[0-9]{11}$/.test(s)) return s;
  const m = /^([0-9]{4,5})-([0-9]{3,4})-([0-9]{1,2})$/.exec(s);
  if (m !== null) {
    const [, a = '', b = '', c = ''] = m;
    if (
      a.length + b.length + c.length === 10 ||
      (a.length === 5 && b.length === 4 && c.length === 2)
    ) {
      return `${a.padStart(5, '0')}${b.padStart(4, '0')}${c.padStart(2, '0')}`;
    }
  }
  throw new AppError('validation_failed', 'not an NDC (11 digits, or 10 digits with hyphens)', {
    detail: 'ndc',
  });
}

/** Is `code` an RXCUI (digits only, at most 12)? */
export function isRxcui(code: string): boolean {
  return /^[0-9]{1,12}$/.test(code);
}

/**
 * Maps an RxNorm DCSA attribute value (MTHSPL `CII`, NDDF-style `2`, `3N`) to a schedule.
 * Returns `null` for not controlled, `'CI'` for Schedule I (not prescribable), `undefined` when the
 * value is not a schedule at all.
 */
export function deaScheduleFromDcsa(value: string): DeaSchedule | 'CI' | null | undefined {
  const v = value.trim().toUpperCase().replace(/^C-?/, 'C');
  switch (v) {
    case '':
    case '0':
    case 'N':
    case 'NONE':
      return null;
    case 'CI':
    case '1':
      return 'CI';
    case 'CII':
    case '2':
    case '2N':
      return 'CII';
    case 'CIII':
    case '3':
    case '3N':
      return 'CIII';
    case 'CIV':
    case '4':
      return 'CIV';
    case 'CV':
    case '5':
      return 'CV';
    default:
      return undefined;
  }
}

const ORDER: Record<DeaSchedule, number> = { CII: 2, CIII: 3, CIV: 4, CV: 5 };

/** The more restrictive of two schedules (CII over CIII, any over none). */
export function stricterSchedule(a: DeaSchedule | null, b: DeaSchedule | null): DeaSchedule | null {
  if (a === null) return b;
  if (b === null) return a;
  return ORDER[a] <= ORDER[b] ? a : b;
}
