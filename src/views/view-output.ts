import { HealthmeshError } from '../core/index.js';
import type { ColumnInfo, ViewRow } from './view-compiler.js';

/** Output formats of `$run` and `healthmesh views run` (SQL-on-FHIR v2 $run `_format`). */
export type ViewOutputFormat = 'csv' | 'ndjson' | 'json';

export const OUTPUT_FORMATS: readonly ViewOutputFormat[] = ['csv', 'ndjson', 'json'];

export const CONTENT_TYPES: Record<ViewOutputFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
};

/** Parse a format name (`text/csv` and `application/x-ndjson` MIME types are accepted too). */
export function parseOutputFormat(value: string): ViewOutputFormat {
  const v = value.toLowerCase();
  if (v === 'csv' || v === 'text/csv') return 'csv';
  if (v === 'ndjson' || v === 'application/x-ndjson' || v === 'application/ndjson') return 'ndjson';
  if (v === 'json' || v === 'application/json') return 'json';
  throw new HealthmeshError(
    'API_BAD_REQUEST',
    `unknown output format '${value}'; use one of ${OUTPUT_FORMATS.join(', ')}`,
    {
      path: '_format',
    },
  );
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break; lists and objects as JSON. */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function rowObject(columns: readonly ColumnInfo[], row: ViewRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) o[columns[i]!.name] = row[i] ?? null;
  return o;
}

/** Render rows as text chunks (one per row, plus header/brackets), so large results can be streamed. */
export async function* formatRows(
  columns: readonly ColumnInfo[],
  rows: AsyncIterable<ViewRow[]>,
  format: ViewOutputFormat,
  options: { header?: boolean } = {},
): AsyncIterable<string> {
  if (format === 'csv' && options.header !== false) yield `${columns.map((c) => csvField(c.name)).join(',')}\n`;
  if (format === 'json') yield '[';
  let first = true;
  for await (const batch of rows) {
    let out = '';
    for (const row of batch) {
      if (format === 'csv') out += `${row.map(csvField).join(',')}\n`;
      else if (format === 'ndjson') out += `${JSON.stringify(rowObject(columns, row))}\n`;
      else {
        out += `${first ? '' : ','}\n${JSON.stringify(rowObject(columns, row))}`;
        first = false;
      }
    }
    if (out) yield out;
  }
  if (format === 'json') yield first ? ']\n' : '\n]\n';
}
