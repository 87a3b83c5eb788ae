import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceWrite } from './resource-store.js';

/**
 * The staging text format of bulk writes: one row per line, fields separated by U+0001. A field holding U+0001,
 * U+0002, CR or LF is quoted with U+0002 (a U+0002 inside is doubled); an empty field is NULL and a quoted empty
 * field is ''. Resource bodies come from JSON.stringify, which escapes every control character, so they are
 * never quoted and go to disk as they are (ECMA-262 QuoteJSONString).
 */
export const STAGE_DELIMITER = '\u0001';
export const STAGE_QUOTE = '\u0002';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the staging format's own control characters
const NEEDS_QUOTE = /[\u0001\u0002\r\n]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the staging format's own control characters
const QUOTE_ALL = /\u0002/g;

/** A SQL type of a staged column, in the subset both engines speak. */
export type StageType = 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'BOOLEAN';
/** The columns of a staged file, in file order: name and SQL type. */
export type StageColumns = readonly (readonly [name: string, type: StageType])[];

/**
 * One field of the staging format. Numbers are written by `String`, the shortest text that reads back as the
 * same double (ECMA-262 Number::toString), so DOUBLE columns round-trip exactly.
 */
export function stageField(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  if (value === '') return STAGE_QUOTE + STAGE_QUOTE;
  if (!NEEDS_QUOTE.test(value)) return value;
  return STAGE_QUOTE + value.replace(QUOTE_ALL, STAGE_QUOTE + STAGE_QUOTE) + STAGE_QUOTE;
}

/**
 * Staged records: what the store decides a record's version from (identity, content hash, patient). `key` is the
 * record's number in its run, increasing in input order, which is the order versions are given in.
 */
export const RECORD_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['type', 'VARCHAR'],
  ['id', 'VARCHAR'],
  ['hash', 'VARCHAR'],
  ['patient_key', 'VARCHAR'],
];
/** Staged resource bodies: `key` and `content`. */
export const VERSION_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['content', 'VARCHAR'],
];
/**
 * Staged search rows, one file per index table: the store's bulk reader then parses each row once (in one
 * shared file, each of the three inserts parsed all of it; measured 0.33 s of a 1.9 s write of 64k resources).
 */
export const TOKEN_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['param', 'VARCHAR'],
  ['system', 'VARCHAR'],
  ['code', 'VARCHAR'],
];
/** Date search rows: `low` and `high` in epoch ms. */
export const DATE_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['param', 'VARCHAR'],
  ['low', 'BIGINT'],
  ['high', 'BIGINT'],
];
export const REFERENCE_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['param', 'VARCHAR'],
  ['target', 'VARCHAR'],
];

/** The staged tables of a chunk: records, resource bodies and the three search indexes. */
export const STAGED_TABLES = ['records', 'versions', 'tokens', 'dates', 'references'] as const;
export type StagedTable = (typeof STAGED_TABLES)[number];

/** The staged files of one chunk of records, per table (absent when the chunk has no such rows). */
export type StagedFiles = { [T in StagedTable]?: string } & {
  /** Longest line written, in UTF-16 code units (a bound for its UTF-8 bytes / 3). */
  longestLine: number;
};

/**
 * Staged lines encoded straight into a growing byte buffer as they are made: each line's string dies young. Kept
 * as strings until the file is written (an array joined at the end, or one growing string), they were all
 * promoted to the old generation and the collector's time in the workers grew with them (measured).
 */
export class StageBuffer {
  private buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  write(s: string): void {
    // A UTF-16 code unit is at most three UTF-8 bytes.
    const need = this.length + 3 * s.length;
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, 2 * this.buf.length));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    this.length += this.buf.write(s, this.length);
  }

  /** The bytes written so far (a view: valid until the next write or clear). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Start again, keeping the memory for the next file. */
  clear(): void {
    this.length = 0;
  }
}

/**
 * Collects the staged rows of one chunk of prepared resources (in a worker thread, so the main thread never
 * touches their bodies) and writes them as files for the store's `writeStaged`.
 */
export class StagedRowsWriter {
  private readonly tables: Record<StagedTable, StageBuffer> = {
    records: new StageBuffer(),
    versions: new StageBuffer(),
    tokens: new StageBuffer(),
    dates: new StageBuffer(),
    references: new StageBuffer(),
  };
  private longestLine = 0;

  /**
   * Stage one prepared resource under `key`: its record, its body (JSON.stringify output, which never needs
   * quoting: it is written as it is, saving a scan of every body) and its search rows.
   */
  add(key: number, w: Omit<ResourceWrite, 'source'>): void {
    const d = STAGE_DELIMITER;
    const t = this.tables;
    t.records.write(
      `${key}${d}${stageField(w.type)}${d}${stageField(w.id)}${d}${stageField(w.hash)}${d}${stageField(w.patientKey)}\n`,
    );
    const line = `${key}${d}${w.content}\n`;
    if (line.length > this.longestLine) this.longestLine = line.length;
    t.versions.write(line);
    const search = w.search;
    for (const [param, system, code] of search.tokens) {
      t.tokens.write(`${key}${d}${stageField(param)}${d}${stageField(system)}${d}${stageField(code)}\n`);
    }
    for (const [param, low, high] of search.dates)
      t.dates.write(`${key}${d}${stageField(param)}${d}${low}${d}${high}\n`);
    for (const [param, target] of search.references) {
      t.references.write(`${key}${d}${stageField(param)}${d}${stageField(target)}\n`);
    }
  }

  get empty(): boolean {
    return this.tables.records.length === 0;
  }

  /** Write the collected rows as `<dir>/<name>.<table>` files; the writer is empty again afterwards. */
  write(dir: string, name: string): StagedFiles {
    const files: StagedFiles = { longestLine: this.longestLine };
    for (const table of STAGED_TABLES) {
      const rows = this.tables[table];
      if (rows.length === 0) continue;
      const file = join(dir, `${name}.${table}`);
      writeFileSync(file, rows.bytes(), { mode: 0o600 });
      files[table] = file;
      rows.clear();
    }
    this.longestLine = 0;
    return files;
  }
}
