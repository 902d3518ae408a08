import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { AppError } from '../core/index.js';

/**
 * The operator-supplied drug-drug interaction table (docs/interactions.md): a CSV file with the
 * header `ingredient_a_rxcui,ingredient_b_rxcui,severity,description`, one pair of RxNorm
 * ingredient concepts per row. Pairs are unordered. Parsing is strict (RFC 4180 quoting, exact
 * header, known severities) and errors name the file and line, because a silently dropped row is
 * a missed interaction.
 */
export const INTERACTION_SEVERITIES = ['contraindicated', 'major', 'moderate', 'minor'] as const;
export type InteractionSeverity = (typeof INTERACTION_SEVERITIES)[number];

export interface Interaction {
  readonly a: string;
  readonly b: string;
  readonly severity: InteractionSeverity;
  readonly description: string;
}

export interface InteractionTable {
  readonly size: number;
  /** The interactions recorded for an unordered pair of ingredient RXCUIs. */
  between(a: string, b: string): readonly Interaction[];
}

const HEADER = ['ingredient_a_rxcui', 'ingredient_b_rxcui', 'severity', 'description'];

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** Splits one CSV record (RFC 4180: quoted fields, doubled quotes); undefined if unterminated. */
function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i += 1;
      for (;;) {
        if (i >= line.length) return undefined;
        const ch = line[i] ?? '';
        if (ch === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        field += ch;
        i += 1;
      }
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      const end = line.indexOf(',', i);
      field = end === -1 ? line.slice(i) : line.slice(i, end);
      if (field.includes('"')) return undefined;
      i = end === -1 ? line.length : end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i += 1; // the comma
  }
}

/** Builds a table from rows (also for tests). */
export function interactionTable(rows: readonly Interaction[]): InteractionTable {
  const map = new Map<string, Interaction[]>();
  for (const r of rows) {
    const k = pairKey(r.a, r.b);
    const list = map.get(k);
    if (list === undefined) map.set(k, [r]);
    else list.push(r);
  }
  return { size: rows.length, between: (a, b) => map.get(pairKey(a, b)) ?? [] };
}

/** Parses the CSV text; `name` is used in error messages (`interactions.csv line 4: …`). */
export function parseInteractionCsv(text: string, name: string): InteractionTable {
  const fail = (line: number, problem: string): AppError =>
    new AppError('validation_failed', `${name} line ${String(line)}: ${problem}`, {
      detail: `${name} line ${String(line)}: ${problem}`,
    });
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsv(lines[0] ?? '');
  if (header?.join(',') !== HEADER.join(',')) {
    throw fail(1, `the header must be ${HEADER.join(',')}`);
  }
  const rows: Interaction[] = [];
  const seen = new Set<string>();
  for (let n = 1; n < lines.length; n += 1) {
    const text = lines[n] ?? '';
    if (text.trim() === '') continue;
    const f = splitCsv(text);
    if (f === undefined) throw fail(n + 1, 'malformed quoting');
    if (f.length !== 4) throw fail(n + 1, `expected 4 fields, found ${String(f.length)}`);
    const [a = '', b = '', severity = '', description = ''] = f.map((x) => x.trim());
    if (!/^[0-9]{1,12}$/.test(a) || !/^[0-9]{1,12}$/.test(b)) {
      throw fail(n + 1, 'ingredient RXCUIs must be digits');
    }
    if (a === b) throw fail(n + 1, 'an ingredient does not interact with itself');
    if (!(INTERACTION_SEVERITIES as readonly string[]).includes(severity)) {
      throw fail(n + 1, `severity must be one of ${INTERACTION_SEVERITIES.join(', ')}`);
    }
    if (description === '' || description.length > 1000) {
      throw fail(n + 1, 'description must be 1 to 1000 characters');
    }
    const key = pairKey(a, b);
    if (seen.has(key)) throw fail(n + 1, `the pair ${a}/${b} appears twice`);
    seen.add(key);
    rows.push({ a, b, severity: severity as InteractionSeverity, description });
  }
  return interactionTable(rows);
}

/** Loads the table from a file (the `SCRIP_INTERACTIONS_FILE` setting or `scrip drugs interactions`). */
export function loadInteractionTable(path: string): InteractionTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AppError('config_invalid', `interaction table ${basename(path)} cannot be read`);
  }
  return parseInteractionCsv(text, basename(path));
}

/** An empty table: no interaction findings (the operator has supplied none). */
export const NO_INTERACTIONS: InteractionTable = interactionTable([]);

/**
 * The table the platform screens with: the operator's file, or none. Without one, interaction
 * screening is off: say so once at start (a warning, no PHI) and, through
 * {@link NO_INTERACTIONS}, on every prescription's findings (prescription.adapters.ts).
 */
export function configuredInteractionTable(
  file: string | undefined,
  log: { warn(message: string): void },
): InteractionTable {
  if (file !== undefined) return loadInteractionTable(file);
  log.warn(
    'interaction table not configured (SCRIP_INTERACTIONS_FILE): drug-drug interaction screening is off',
  );
  return NO_INTERACTIONS;
}
