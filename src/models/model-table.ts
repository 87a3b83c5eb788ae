/**
 * A flat table (CSV, TSV or Parquet) as a learner's input: a numeric matrix, the outcome as 0/1, and what the
 * missing-value policy did. Read by a throwaway in-memory DuckDB, not a hub's store: fitting a table needs no hub
 * (as `forecast season` needs none) and the table's rows never reach the hub's disk.
 */
import { extname } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import { DuckDbDatabase } from '../store/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';

/** What to do with a missing cell (`NA`, `?` or empty) in a column the model uses. */
export type TableMissingPolicy = 'fail' | 'complete-case' | 'mean';
export const TABLE_MISSING_POLICIES: readonly TableMissingPolicy[] = ['fail', 'complete-case', 'mean'];

/** The cells that count as missing (after trimming). */
const MISSING_TOKENS = new Set(['', 'NA', '?']);

export interface ModelTableOptions {
  /** The outcome column, or a comparison on it such as `target>0` (then `positive` must be absent). */
  outcome: string;
  /**
   * Which outcome values are events: a comparison (`>0`, `>=2`, `!=0`, `==yes`) or a value (`2`, `yes`). Absent:
   * the outcome must hold 0 and 1.
   */
  positive?: string;
  /** Predictor columns in order; default every column but the outcome. */
  features?: readonly string[];
  /** Default `fail`. */
  missing?: TableMissingPolicy;
  /** A time-to-event column (Cox): read beside the outcome, which is then the event; never a predictor. */
  time?: string;
}

/** The table as read: predictors (NaN where missing and the policy is `mean`) and what was left out. */
export interface ModelTable {
  /** The file's base name (its path is not kept: a path may name a person). */
  file: string;
  matrix: FeatureMatrix;
  outcome: { column: string; positive: string };
  missing: TableMissingPolicy;
  /** Data rows in the file. */
  rowsRead: number;
  /** Rows dropped because a used column was missing (`complete-case` only). */
  rowsDropped: number;
  /** Missing cells per predictor among the rows kept (non-zero only under `mean`). */
  missingCells: Record<string, number>;
  /** With `options.time`: each kept row's time, in the order of `matrix`'s rows. */
  times?: number[];
}

type Cell = string | number | bigint | boolean | null | undefined;

interface OutcomeRule {
  column: string;
  positive: string;
  /** 1 or 0, or undefined when the value cannot be classified (not 0/1 without a rule, non-numeric for a bound). */
  classify: (raw: string) => 0 | 1 | undefined;
}

const COMPARISON = /^(>=|<=|==|!=|>|<|=)\s*(.+)$/;

function outcomeRule(outcome: string, positive: string | undefined): OutcomeRule {
  const inline = /^(.+?)\s*(>=|<=|==|!=|>|<)\s*(.+)$/.exec(outcome);
  if (inline && positive !== undefined) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', 'give the comparison in --outcome or in --positive, not both', {
      path: 'positive',
    });
  }
  const column = inline ? inline[1]!.trim() : outcome.trim();
  const rule = inline ? `${inline[2]}${inline[3]!.trim()}` : positive?.trim();
  if (rule === undefined) {
    return {
      column,
      positive: '1',
      classify: (raw) => (raw === '1' || Number(raw) === 1 ? 1 : raw === '0' || Number(raw) === 0 ? 0 : undefined),
    };
  }
  if (rule === '') throw new HealthmeshError('MODEL_INVALID_OPTION', '--positive is empty', { path: 'positive' });
  const m = COMPARISON.exec(rule);
  const op = m ? m[1]! : '==';
  const operand = m ? m[2]!.trim() : rule;
  const bound = Number(operand);
  if (op === '==' || op === '=' || op === '!=') {
    // Equal as text, or as numbers when both are numbers (so `2.0` matches `2`).
    const equal = (raw: string) =>
      raw === operand || (operand !== '' && raw !== '' && Number.isFinite(bound) && Number(raw) === bound);
    return { column, positive: rule, classify: (raw) => ((op === '!=') !== equal(raw) ? 1 : 0) };
  }
  if (!Number.isFinite(bound)) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `--positive ${rule}: "${operand}" is not a number`, {
      path: 'positive',
    });
  }
  const test: (v: number) => boolean =
    op === '>' ? (v) => v > bound : op === '>=' ? (v) => v >= bound : op === '<' ? (v) => v < bound : (v) => v <= bound;
  return {
    column,
    positive: rule,
    classify: (raw) => {
      const v = Number(raw);
      return raw.trim() === '' || !Number.isFinite(v) ? undefined : test(v) ? 1 : 0;
    },
  };
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The reader of a file by its extension: CSV and TSV as text (we parse the cells), Parquet as typed. */
function tableSource(path: string): { sql: string; lineOf: (row: number) => number | undefined } {
  const ext = extname(path).toLowerCase();
  const file = sqlString(path);
  // A CSV's header is line 1, so data row i (from 0) is line i + 2 (no quoted field spans lines in these tables).
  const csvLine = (row: number) => row + 2;
  if (ext === '.parquet') return { sql: `read_parquet(${file})`, lineOf: () => undefined };
  if (ext === '.tsv' || ext === '.tab') {
    return { sql: `read_csv(${file}, delim='\t', header=true, all_varchar=true)`, lineOf: csvLine };
  }
  if (ext === '.csv' || ext === '.txt') {
    return { sql: `read_csv(${file}, header=true, all_varchar=true)`, lineOf: csvLine };
  }
  throw new HealthmeshError(
    'MODEL_INVALID_OPTION',
    `--table must be a .csv, .tsv or .parquet file, not ${ext || path}`,
    {
      path: 'table',
    },
  );
}

function text(v: Cell): string {
  if (v === null || v === undefined) return '';
  return String(v).trim();
}

/**
 * Read `path` into a numeric matrix for a model. Predictor cells must be numbers; `NA`, `?` and empty cells are
 * missing and handled by `options.missing`: `fail` refuses at the first (MODEL_MISSING_VALUE), `complete-case`
 * drops every row with a missing used column and counts them, `mean` keeps them as NaN for the trainer to fill
 * with the training mean (a missing outcome is refused then, since it cannot be imputed). Faults name the file,
 * line (CSV/TSV; row for Parquet) and column: MODEL_TABLE_UNKNOWN_COLUMN, MODEL_TABLE_BAD_VALUE,
 * MODEL_BAD_OUTCOME, MODEL_MISSING_VALUE.
 */
export async function readModelTable(path: string, options: ModelTableOptions): Promise<ModelTable> {
  const missing = options.missing ?? 'fail';
  if (!TABLE_MISSING_POLICIES.includes(missing)) {
    throw new HealthmeshError(
      'MODEL_INVALID_OPTION',
      `--missing must be one of ${TABLE_MISSING_POLICIES.join(', ')}, not ${missing}`,
      { path: 'missing' },
    );
  }
  const rule = outcomeRule(options.outcome, options.positive);
  const source = tableSource(path);
  const name = path.split(/[\\/]/).pop() ?? path;
  const db = await DuckDbDatabase.open(':memory:');
  let columns: string[];
  let rows: Record<string, Cell>[];
  try {
    try {
      columns = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM ${source.sql}`)).map(
        (c) => c.column_name,
      );
      rows = await db.all<Record<string, Cell>>(`SELECT * FROM ${source.sql}`);
    } catch (cause) {
      throw new HealthmeshError(
        'INGEST_UNREADABLE',
        `cannot read ${name} as a table: ${(cause as Error).message.split('\n')[0]}`,
        { file: name },
        { cause },
      );
    }
  } finally {
    await db.close();
  }
  const unknown = (column: string, what: string) =>
    new HealthmeshError(
      'MODEL_TABLE_UNKNOWN_COLUMN',
      `${name} has no column ${column} (${what}); its columns are ${columns.join(', ')}`,
      { file: name, path: column },
    );
  if (!columns.includes(rule.column)) throw unknown(rule.column, 'the outcome');
  const timeColumn = options.time;
  if (timeColumn !== undefined && !columns.includes(timeColumn)) throw unknown(timeColumn, 'the time');
  const features = options.features ?? columns.filter((c) => c !== rule.column && c !== timeColumn);
  for (const f of features) {
    if (!columns.includes(f)) throw unknown(f, 'a feature');
    if (f === rule.column || f === timeColumn) {
      throw new HealthmeshError(
        'MODEL_INVALID_OPTION',
        `the ${f === timeColumn ? 'time' : 'outcome'} ${f} cannot also be a feature`,
        { path: f },
      );
    }
  }
  if (features.length === 0) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `${name} has no predictor column besides the outcome`, {
      path: 'features',
    });
  }
  const where = (row: number, column: string) => {
    const line = source.lineOf(row);
    return {
      text: line !== undefined ? `${name} line ${line}, column ${column}` : `${name} row ${row + 1}, column ${column}`,
      location: { file: name, line: line ?? row + 1, path: column },
    };
  };
  const width = features.length;
  const values: number[] = [];
  const outcome: number[] = [];
  const times: number[] = [];
  const missingCells: Record<string, number> = Object.fromEntries(features.map((f) => [f, 0]));
  let dropped = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const cells = new Float64Array(width);
    let incomplete = false;
    const rawOutcome = text(row[rule.column]);
    if (MISSING_TOKENS.has(rawOutcome)) {
      if (missing !== 'complete-case') {
        const w = where(i, rule.column);
        throw new HealthmeshError(
          'MODEL_MISSING_VALUE',
          `the outcome is missing at ${w.text}; --missing complete-case drops such rows`,
          w.location,
        );
      }
      incomplete = true;
    }
    let time = Number.NaN;
    if (timeColumn !== undefined) {
      const raw = text(row[timeColumn]);
      if (MISSING_TOKENS.has(raw)) {
        if (missing !== 'complete-case') {
          const w = where(i, timeColumn);
          throw new HealthmeshError(
            'MODEL_MISSING_VALUE',
            `the time is missing at ${w.text}; --missing complete-case drops such rows`,
            w.location,
          );
        }
        incomplete = true;
      } else {
        time = Number(raw);
        if (!Number.isFinite(time) || time < 0) {
          const w = where(i, timeColumn);
          throw new HealthmeshError(
            'MODEL_BAD_TIME',
            `${w.text} is ${JSON.stringify(raw.slice(0, 40))}, not a time of 0 or more`,
            w.location,
          );
        }
      }
    }
    for (let j = 0; j < width; j++) {
      const column = features[j]!;
      const v = row[column];
      const raw = text(v);
      if (MISSING_TOKENS.has(raw)) {
        if (missing === 'fail') {
          const w = where(i, column);
          throw new HealthmeshError(
            'MODEL_MISSING_VALUE',
            `${w.text} is missing (${raw === '' ? 'empty' : raw}); choose --missing complete-case or mean`,
            w.location,
          );
        }
        if (missing === 'complete-case') incomplete = true;
        cells[j] = Number.NaN;
        continue;
      }
      const x = typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : Number(raw);
      if (!Number.isFinite(x)) {
        const w = where(i, column);
        throw new HealthmeshError(
          'MODEL_TABLE_BAD_VALUE',
          `${w.text} is ${JSON.stringify(raw.slice(0, 40))}, not a number`,
          w.location,
        );
      }
      cells[j] = x;
    }
    if (incomplete) {
      dropped++;
      continue;
    }
    const y = rule.classify(rawOutcome);
    if (y === undefined) {
      const w = where(i, rule.column);
      throw new HealthmeshError(
        'MODEL_BAD_OUTCOME',
        `the outcome at ${w.text} is ${JSON.stringify(rawOutcome.slice(0, 40))}: ${
          options.positive === undefined && rule.positive === '1'
            ? 'not 0 or 1 (say which values are events with --positive, e.g. ">0")'
            : `not a number to compare (${rule.positive})`
        }`,
        w.location,
      );
    }
    for (let j = 0; j < width; j++) if (Number.isNaN(cells[j]!)) missingCells[features[j]!]!++;
    for (const c of cells) values.push(c);
    outcome.push(y);
    if (timeColumn !== undefined) times.push(time);
  }
  if (outcome.length === 0) {
    throw new HealthmeshError('MODEL_EMPTY_DATA', `${name} has no complete row (${rows.length} read)`, { file: name });
  }
  return {
    file: name,
    matrix: featureMatrix(features, Float64Array.from(values), outcome),
    outcome: { column: rule.column, positive: rule.positive },
    missing,
    rowsRead: rows.length,
    rowsDropped: dropped,
    missingCells,
    ...(timeColumn !== undefined && { times }),
  };
}

/** Every column's mean over its recorded values in `m` (the training side of a split): the `mean` policy's fill. */
export function tableFill(m: FeatureMatrix): Record<string, number> {
  const width = m.names.length;
  const fill: Record<string, number> = {};
  m.names.forEach((name, j) => {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < m.rows; i++) {
      const v = m.values[i * width + j]!;
      if (!Number.isNaN(v)) {
        sum += v;
        n++;
      }
    }
    if (n === 0) {
      throw new HealthmeshError('MODEL_ALL_MISSING_FEATURE', `column ${name} is missing in every training row`, {
        path: name,
      });
    }
    fill[name] = sum / n;
  });
  return fill;
}

/** `m` with every NaN replaced by its column's value in `fill`. */
export function applyTableFill(m: FeatureMatrix, fill: Readonly<Record<string, number>>): FeatureMatrix {
  const width = m.names.length;
  const values = Float64Array.from(m.values);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < width; j++) {
      if (Number.isNaN(values[i * width + j]!)) {
        const f = fill[m.names[j]!];
        if (f !== undefined) values[i * width + j] = f;
      }
    }
  }
  return m.outcome
    ? { names: m.names, rows: m.rows, values, outcome: m.outcome }
    : { names: m.names, rows: m.rows, values };
}
