import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import type { SqlValue } from '../store/index.js';
import { STAGE_DELIMITER, StageBuffer, stageField } from '../store/index.js';
import type { MaterialisedView } from './materialised-view.js';
import { located, withVersionMeta } from './materialised-view.js';
import { toSqlRow } from './table-schema.js';

/**
 * One exported line per stale resource, built by the store's own threads (`Database.exportLines`):
 * `{"i": id, "v": version, "t": lastUpdated epoch ms, "k": shard key, "s": [version each view last flattened, or
 * null], "r": body}`.
 * One JSON.parse per line gives the resource and its bookkeeping together.
 */
interface StaleLine {
  i: string;
  v: number;
  t: number;
  k: string;
  s: (number | null)[];
  r: Record<string, unknown>;
}

const LF = 0x0a;

/** One exported file for a worker to flatten through the views of one resource type. */
export interface FlattenTask {
  seq: number;
  file: string;
  /** The group's view names, in the order of the `s` array of each line. */
  views: string[];
  /** Folder and file name prefix for the staged output. */
  outDir: string;
  name: string;
}

/** Staged output of one view: rows of its table and the ids whose old rows go. */
export interface FlattenedView {
  rows?: string;
  replaced?: string;
  flattened: number;
  /** Longest staged line in UTF-16 code units (its UTF-8 bytes are at most three times that). */
  longestLine: number;
}

export interface FlattenOutput {
  resources: number;
  views: FlattenedView[];
  /**
   * The `view_source` rows of the whole group in one file: id, version, which views flattened it (a string
   * of 0 and 1, one character per view in group order) and the resource's shard key. Read once for every view: per-view files cost a read
   * each (two Observation views: ~0.4 s per 130k resources, on the load that ends a refresh).
   */
  sources?: string;
}

/** An error as it crosses back from a worker: a HealthmeshError keeps its code and location. */
export interface FlattenFailure {
  code?: string;
  message: string;
  location?: HealthmeshError['location'];
}

/** Flatten every resource of `task.file` through `views` (in `task.views` order) and stage the results as files. */
export function flattenStagedFile(task: FlattenTask, views: readonly MaterialisedView[]): FlattenOutput {
  // Lines are decoded one by one from the bytes: one non-ASCII character anywhere makes a whole-file string
  // two-byte, and parsing and slicing two-byte strings cost ~30% more (measured on the Synthea export).
  const bytes = readFileSync(task.file);
  const rows = views.map(() => new StageBuffer());
  const sources = new StageBuffer();
  const replaced = views.map(() => new StageBuffer());
  const flattened = views.map(() => 0);
  const longest = views.map(() => 0);
  const d = STAGE_DELIMITER;
  let resources = 0;
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(LF, start);
    if (end < 0) end = bytes.length;
    if (end === start) {
      start = end + 1;
      continue;
    }
    const line = JSON.parse(bytes.toString('utf8', start, end)) as StaleLine;
    start = end + 1;
    resources++;
    const resource = line.r;
    const id = line.i;
    withVersionMeta(resource, line.v, line.t);
    const idField = stageField(id);
    let mask = '';
    let any = false;
    for (let i = 0; i < views.length; i++) {
      const seen = line.s[i];
      if (seen !== null && seen !== undefined && seen === line.v) {
        mask += '0';
        continue;
      }
      const e = views[i]!;
      let sqlRows: SqlValue[][];
      try {
        sqlRows = e.view.rows(resource).map((values) => toSqlRow(e.view.columns, e.sqlTypes, values));
      } catch (err) {
        throw located(err, e.name, e.view.definition.resource, id);
      }
      for (const sqlRow of sqlRows) {
        // One array joined per row: concatenating fields one by one cost twice as much (measured).
        const fields = new Array<string>(sqlRow.length + 1);
        for (let c = 0; c < sqlRow.length; c++) fields[c] = stageField(sqlRow[c] as string | number | boolean | null);
        fields[sqlRow.length] = idField;
        const out = `${fields.join(d)}\n`;
        if (out.length > longest[i]!) longest[i] = out.length;
        rows[i]!.write(out);
      }
      mask += '1';
      any = true;
      if (seen !== null && seen !== undefined) replaced[i]!.write(`${idField}\n`);
      flattened[i]!++;
    }
    if (any) sources.write(`${idField}${d}${line.v}${d}${mask}${d}${stageField(line.k)}\n`);
  }
  const put = (suffix: string, lines: StageBuffer): string | undefined => {
    if (lines.length === 0) return undefined;
    const file = join(task.outDir, `${task.name}.${suffix}`);
    writeFileSync(file, lines.bytes(), { mode: 0o600 });
    return file;
  };
  const out: FlattenOutput = {
    resources,
    views: views.map((_, i) => {
      const view: FlattenedView = { flattened: flattened[i]!, longestLine: Math.max(longest[i]!, 200) };
      const r = put(`${i}.rows`, rows[i]!);
      const x = put(`${i}.replaced`, replaced[i]!);
      if (r) view.rows = r;
      if (x) view.replaced = x;
      return view;
    }),
  };
  const s = put('sources', sources);
  if (s) out.sources = s;
  return out;
}

export function toFailure(err: unknown): FlattenFailure {
  if (err instanceof HealthmeshError) return { code: err.code, message: err.message, location: err.location };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function fromFailure(f: FlattenFailure): Error {
  if (f.code) return new HealthmeshError(f.code as HealthmeshError['code'], f.message, f.location ?? {});
  return new Error(f.message);
}
