import { createHash } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import type { CountTable, DisclosureRule, ReleaseGate } from '../privacy/index.js';
import type { OutputRequest } from './output-schema.js';
import { MAX_OUTPUT_BYTES, MAX_OUTPUT_CELLS } from './output-schema.js';

/**
 * What the automatic check decided about a requested output:
 * - `release`: the rules cover it and it passes (a count table: released as the gate rounds it; a forecast: built by
 *   the gate from released series only); `released` is what its requester downloads;
 * - `review`: the rules do not cover it (a figure's pixels), so a steward decides; any counts it carries passed;
 * - `refuse`: a rule refuses it; the reason names the rule, never a number.
 */
export type OutputCheck =
  | { verdict: 'release'; rules: DisclosureRule[]; released: string; why: string }
  | { verdict: 'review'; rules: DisclosureRule[]; reason: string }
  | { verdict: 'refuse'; rule: DisclosureRule; reason: string };

/** An output as it is kept: its bytes (a table's JSON or a figure's), their media type and hash. */
export interface OutputContent {
  mediaType: string;
  content: string;
  sha256: string;
}

/** The content of a requested output, checked for shape and size; errors name the field. */
export function outputContent(body: OutputRequest): OutputContent {
  if (body.kind === 'model-card' || body.kind === 'forecast') {
    const content = JSON.stringify(body.kind === 'model-card' ? body.card : body.forecast);
    if (Buffer.byteLength(content) > MAX_OUTPUT_BYTES) {
      throw new HealthmeshError('OUTPUT_INVALID', `a ${body.kind} may have at most ${MAX_OUTPUT_BYTES} bytes`, {
        path: body.kind === 'model-card' ? 'model' : 'forecast',
      });
    }
    return { mediaType: 'application/json', content, sha256: sha256(content) };
  }
  if (body.kind === 'table') {
    checkTableShape(body.table, 'table');
    const content = JSON.stringify(body.table);
    return { mediaType: 'application/json', content, sha256: sha256(content) };
  }
  if (body.table !== undefined) checkTableShape(body.table, 'table');
  const bytes = Buffer.from(body.data, 'base64');
  if (bytes.length === 0 || bytes.toString('base64').replace(/=+$/, '') !== body.data.replace(/=+$/, '')) {
    throw new HealthmeshError('OUTPUT_INVALID', 'data must be the figure in base64', { path: 'data' });
  }
  if (bytes.length > MAX_OUTPUT_BYTES) {
    throw new HealthmeshError('OUTPUT_INVALID', `a figure may have at most ${MAX_OUTPUT_BYTES} bytes`, {
      path: 'data',
    });
  }
  if (!matchesMediaType(bytes, body.mediaType)) {
    throw new HealthmeshError('OUTPUT_INVALID', `data is not a ${body.mediaType} image`, { path: 'mediaType' });
  }
  return { mediaType: body.mediaType, content: body.data, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The automatic part of output checking: the hub's release gate over every count the output carries. A table that
 * the gate would release without suppressing anything is released as the gate rounds it; a table with any
 * suppressed cell is refused whole (a published table with holes invites guessing them back from other releases,
 * so the requester merges categories or widens bands instead). Figures go to a steward once their counts pass.
 */
export function checkOutput(body: OutputRequest, gate: ReleaseGate): OutputCheck {
  // A forecast the route computed through the gate from released series: every number in it derives from weeks
  // already released, so it leaves at once (and a forecast never reaches here from the requester's own numbers).
  if (body.kind === 'forecast') {
    return {
      verdict: 'release',
      rules: ['released-series'],
      released: JSON.stringify(body.forecast),
      why: 'computed by the release gate from released series only',
    };
  }
  const counts = body.kind === 'model-card' ? undefined : body.table;
  const table = counts === undefined ? undefined : gate.table(counts as CountTable);
  if (table !== undefined) {
    const { primary, secondary } = table.value.suppressed;
    if (primary > 0) {
      return {
        verdict: 'refuse',
        rule: 'threshold',
        reason: "the table has counts under this hub's disclosure threshold; merge categories or widen bands",
      };
    }
    if (secondary > 0) {
      return {
        verdict: 'refuse',
        rule: 'complementary',
        reason: 'a count of the table could be recovered from its margins; merge categories or widen bands',
      };
    }
  }
  if (body.kind === 'table' && table !== undefined) {
    return {
      verdict: 'release',
      rules: ['threshold', 'complementary'],
      released: JSON.stringify(table.value),
      why: 'every count passed the release gate',
    };
  }
  return {
    verdict: 'review',
    rules: table === undefined ? [] : ['threshold', 'complementary'],
    reason:
      body.kind === 'model-card'
        ? 'the rules do not read a model card whole: a steward of this hub decides'
        : "the rules do not cover a figure's pixels: a steward of this hub decides",
  };
}

/**
 * How far two count tables of the same layout are apart: the largest difference of any cell, row or column total or
 * the grand total, or undefined when their rows or columns differ (not comparable cell by cell).
 */
export function differencingGap(a: CountTable, b: CountTable): number | undefined {
  const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  if (!same(a.rows, b.rows) || !same(a.columns, b.columns)) return undefined;
  const cell = (t: CountTable, r: number, c: number) => t.cells[r]?.[c] ?? 0;
  const sum = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0);
  let gap = 0;
  const columnTotals = (t: CountTable) => t.columns.map((_, c) => sum(t.rows.map((_, r) => cell(t, r, c))));
  a.rows.forEach((_, r) => {
    a.columns.forEach((_, c) => {
      gap = Math.max(gap, Math.abs(cell(a, r, c) - cell(b, r, c)));
    });
    gap = Math.max(gap, Math.abs(sum(a.cells[r] ?? []) - sum(b.cells[r] ?? [])));
  });
  const ca = columnTotals(a);
  const cb = columnTotals(b);
  ca.forEach((v, c) => {
    gap = Math.max(gap, Math.abs(v - (cb[c] ?? 0)));
  });
  return Math.max(gap, Math.abs(sum(ca) - sum(cb)));
}

function checkTableShape(table: CountTable, path: string): void {
  if (table.cells.length !== table.rows.length) {
    throw new HealthmeshError('OUTPUT_INVALID', 'cells must have one row per entry of rows', {
      path: `${path}.cells`,
    });
  }
  table.cells.forEach((row, r) => {
    if (row.length !== table.columns.length) {
      throw new HealthmeshError('OUTPUT_INVALID', 'each row of cells must have one count per entry of columns', {
        path: `${path}.cells[${r}]`,
      });
    }
  });
  if (table.rows.length * table.columns.length > MAX_OUTPUT_CELLS) {
    throw new HealthmeshError('OUTPUT_INVALID', `a table output may have at most ${MAX_OUTPUT_CELLS} cells`, {
      path: `${path}.cells`,
    });
  }
}

/** PNG by its signature; SVG by its root element (a text file, so checked after any XML prologue). */
function matchesMediaType(bytes: Buffer, mediaType: string): boolean {
  if (mediaType === 'image/png') {
    return bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  }
  const head = bytes.subarray(0, 4096).toString('utf8');
  return /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE[^>]*>\s*)?<svg[\s>]/i.test(head);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
