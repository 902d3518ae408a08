import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { AppError } from '../core/index.js';

/**
 * RxNorm Rich Release Format files: one record per line, fields separated by `|`, every line
 * ending in a `|` (RxNorm Technical Documentation §12, "RxNorm Files"). The column layouts are
 * fixed; a line with another field count is refused, naming the file and line, so a truncated or
 * foreign file never half-loads into a safety-relevant catalog.
 */
export interface RrfLayout {
  readonly file: string;
  readonly columns: readonly string[];
}

/** RXNCONSO.RRF: concept names and sources (18 fields). */
export const RXNCONSO: RrfLayout = {
  file: 'RXNCONSO.RRF',
  columns: [
    'RXCUI',
    'LAT',
    'TS',
    'LUI',
    'STT',
    'SUI',
    'ISPREF',
    'RXAUI',
    'SAUI',
    'SCUI',
    'SDUI',
    'SAB',
    'TTY',
    'CODE',
    'STR',
    'SRL',
    'SUPPRESS',
    'CVF',
  ],
};

/** RXNSAT.RRF: simple concept and atom attributes (13 fields). */
export const RXNSAT: RrfLayout = {
  file: 'RXNSAT.RRF',
  columns: [
    'RXCUI',
    'LUI',
    'SUI',
    'RXAUI',
    'STYPE',
    'CODE',
    'ATUI',
    'SATUI',
    'ATN',
    'SAB',
    'ATV',
    'SUPPRESS',
    'CVF',
  ],
};

/**
 * RXNREL.RRF: relationships (16 fields). REL/RELA is the relationship the second concept
 * (RXCUI2) has to the first (RXCUI1).
 */
export const RXNREL: RrfLayout = {
  file: 'RXNREL.RRF',
  columns: [
    'RXCUI1',
    'RXAUI1',
    'STYPE1',
    'REL',
    'RXCUI2',
    'RXAUI2',
    'STYPE2',
    'RELA',
    'RUI',
    'SRUI',
    'SAB',
    'SL',
    'DIR',
    'RG',
    'SUPPRESS',
    'CVF',
  ],
};

/** One record: its 1-based line number and fields by column name. */
export interface RrfRecord {
  readonly line: number;
  get(column: string): string;
}

/** A clear, PHI-free error for a bad line: `RXNSAT.RRF line 12: …`. */
export function rrfError(file: string, line: number, problem: string): AppError {
  const where = `${basename(file)} line ${String(line)}`;
  return new AppError('validation_failed', `${where}: ${problem}`, {
    detail: `${where}: ${problem}`,
  });
}

/**
 * Splits one line by the layout: tolerant of the trailing `|` (present in every release, but a
 * hand-edited file may lack it), strict about the count. Exported for unit tests.
 */
export function splitRrfLine(layout: RrfLayout, text: string, line: number): string[] {
  const fields = text.split('|');
  if (fields.length === layout.columns.length + 1 && fields[fields.length - 1] === '') {
    fields.pop();
  }
  if (fields.length !== layout.columns.length) {
    const found = text.endsWith('|') ? fields.length - 1 : fields.length;
    throw rrfError(
      layout.file,
      line,
      `expected ${String(layout.columns.length)} fields, found ${String(found)}`,
    );
  }
  return fields;
}

/** Streams the records of `path` (one line in memory at a time). */
export async function* readRrf(path: string, layout: RrfLayout): AsyncGenerator<RrfRecord> {
  const index = new Map(layout.columns.map((c, i) => [c, i]));
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      if (text.includes('\u0000')) throw rrfError(layout.file, line, 'contains a NUL byte');
      const fields = splitRrfLine(layout, text, line);
      yield {
        line,
        get: (column) => {
          const i = index.get(column);
          if (i === undefined) throw new TypeError(`${layout.file} has no column ${column}`);
          return fields[i] ?? '';
        },
      };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AppError('validation_failed', `${layout.file} not found in the release directory`);
    }
    throw err;
  } finally {
    lines.close();
    stream.destroy();
  }
}
