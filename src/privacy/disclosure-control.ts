import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import { bridgesOf } from './suppression-graph.js';

/** The policy a hub applies when its configuration names none (docs/disclosure-control.md). */
export const DEFAULT_DISCLOSURE_POLICY: DisclosurePolicy = Object.freeze({
  threshold: 10,
  rounding: 5,
  minCellSize: 10,
});

/** A two-way table of person counts; its margins are the sums of its cells. */
export interface CountTable {
  rows: readonly string[];
  columns: readonly string[];
  /** `cells[r][c]`: non-negative integers, one row per entry of `rows`. */
  cells: readonly (readonly number[])[];
}

/** A count as released: a rounded number, or null where it is suppressed. */
export type ReleasedCount = number | null;

/** What may leave the hub of a `CountTable`. */
export interface ReleasedTable {
  rows: readonly string[];
  columns: readonly string[];
  cells: ReleasedCount[][];
  rowTotals: ReleasedCount[];
  columnTotals: ReleasedCount[];
  total: ReleasedCount;
  /** Cells suppressed for being under the threshold, and those suppressed to protect them. */
  suppressed: { primary: number; secondary: number };
}

/** Summary statistics of a measurement over `n` people; quantiles keyed by probability (0.5 = median). */
export interface SummaryStatistics {
  n: number;
  mean?: number;
  sd?: number;
  quantiles?: Readonly<Record<string, number>>;
}

/** What may leave the hub of a `SummaryStatistics`: statistics with too few people behind them are dropped. */
export interface ReleasedSummary {
  n: ReleasedCount;
  mean?: number;
  sd?: number;
  quantiles?: Record<string, number>;
  /** Names of the statistics that were withheld (`mean`, `sd`, `q0.05`, …). */
  withheld: string[];
}

/** Round to the nearest multiple of the policy's base, never to a value under the threshold. */
export function roundCount(n: number, policy: DisclosurePolicy): number {
  const base = policy.rounding;
  const rounded = Math.round(n / base) * base;
  // With a base larger than the threshold, nearest-rounding could publish 0 for 9; round up instead.
  return Math.max(rounded, Math.ceil(policy.threshold / base) * base);
}

/**
 * Whether `value` is a count `policy` could have released: suppressed (null), or a whole multiple of the rounding
 * base at or above the smallest one it publishes. A coordinator checks peers' counts with it: a count this hub would
 * never publish must not reach its users through a sum.
 */
export function isReleasedCount(value: unknown, policy: DisclosurePolicy): value is ReleasedCount {
  if (value === null) return true;
  const base = policy.rounding;
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value % base === 0 &&
    value >= Math.ceil(policy.threshold / base) * base
  );
}

/** One count on its own: suppressed under the threshold, else rounded. */
export function releaseCount(n: number, policy: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY): ReleasedCount {
  if (!Number.isInteger(n) || n < 0) {
    throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `a count must be a non-negative integer, got ${n}`);
  }
  return n < policy.threshold ? null : roundCount(n, policy);
}

function checkTable(table: CountTable): void {
  const fail = (path: string, message: string): never => {
    throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `${path}: ${message}`, { path });
  };
  if (table.rows.length === 0 || table.columns.length === 0) fail('table', 'needs at least one row and one column');
  if (table.cells.length !== table.rows.length)
    fail('cells', `has ${table.cells.length} rows, not ${table.rows.length}`);
  table.cells.forEach((row, r) => {
    if (row.length !== table.columns.length)
      fail(`cells[${r}]`, `has ${row.length} cells, not ${table.columns.length}`);
    row.forEach((v, c) => {
      if (!Number.isInteger(v) || v < 0) fail(`cells[${r}][${c}]`, `must be a non-negative integer, got ${v}`);
    });
  });
}

/**
 * The augmented table: cells plus a margin column (row totals) and a margin row (column totals, grand total),
 * so every row and column of it is one "line" whose last entry is the sum of the others.
 */
function augment(table: CountTable): number[][] {
  const R = table.rows.length;
  const C = table.columns.length;
  const a = Array.from({ length: R + 1 }, () => new Array<number>(C + 1).fill(0));
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const v = table.cells[r]![c]!;
      a[r]![c] = v;
      a[r]![C] = a[r]![C]! + v;
      a[R]![c] = a[R]![c]! + v;
      a[R]![C] = a[R]![C]! + v;
    }
  }
  return a;
}

/**
 * Which entries of the augmented table `values` to suppress: primary (under the threshold), then secondary until
 * no suppressed entry can be solved for from the released ones. Entry (r, c) is an edge between row line r and
 * column line c; the line equations determine a suppressed entry exactly when its edge is a bridge of the graph
 * of suppressed entries (the kernel of a bipartite incidence matrix is spanned by its cycles). A line with one
 * suppressed entry is the common case of a bridge and is fixed first, by suppressing the smallest other entry of
 * that line; any bridge left gets the smallest unsuppressed entry of its row (else column) line. Each step
 * suppresses one more entry, and the fully suppressed table has no bridge, so this reaches a fixed point.
 */
export function suppressionPattern(values: readonly (readonly number[])[], threshold: number): Uint8Array[] {
  const R = values.length;
  const C = values[0]?.length ?? 0;
  // 0 = released, 1 = primary, 2 = secondary.
  const s = values.map((row) => Uint8Array.from(row, (v) => (v < threshold ? 1 : 0)));
  const value = (r: number, c: number) => values[r]![c]!;
  // Smallest value first; on ties an inner cell before a margin, so totals stay published where possible.
  const rank = (r: number, c: number) => value(r, c) * 2 + (r === R - 1 || c === C - 1 ? 1 : 0);
  const smallestOpen = (cells: [number, number][]): [number, number] | undefined => {
    let best: [number, number] | undefined;
    for (const [r, c] of cells) {
      if (s[r]![c] === 0 && (!best || rank(r, c) < rank(...best))) best = [r, c];
    }
    return best;
  };
  const rowLine = (r: number) => Array.from({ length: C }, (_, c): [number, number] => [r, c]);
  const columnLine = (c: number) => Array.from({ length: R }, (_, r): [number, number] => [r, c]);
  const lines = [
    ...Array.from({ length: R }, (_, r) => rowLine(r)),
    ...Array.from({ length: C }, (_, c) => columnLine(c)),
  ];
  for (;;) {
    let changed = false;
    for (const line of lines) {
      let count = 0;
      for (const [r, c] of line) if (s[r]![c] !== 0) count++;
      if (count !== 1) continue;
      const pick = smallestOpen(line);
      if (pick) {
        s[pick[0]]![pick[1]] = 2;
        changed = true;
      }
    }
    if (changed) continue;
    const bridge = bridgesOf(s)[0];
    if (!bridge) return s;
    const pick = smallestOpen(rowLine(bridge[0])) ?? smallestOpen(columnLine(bridge[1]));
    if (!pick) throw new HealthmeshError('INTERNAL', 'complementary suppression found a bridge it cannot break');
    s[pick[0]]![pick[1]] = 2;
  }
}

/**
 * The releasable version of a count table: counts under the threshold suppressed, the others rounded, and
 * complementary suppression so that no suppressed cell (or margin) can be recovered by subtraction from the
 * released cells and margins. Margins are rounded independently of the cells.
 */
export function releaseTable(table: CountTable, policy: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY): ReleasedTable {
  checkTable(table);
  const a = augment(table);
  const pattern = suppressionPattern(a, policy.threshold);
  const R = table.rows.length;
  const C = table.columns.length;
  let primary = 0;
  let secondary = 0;
  const out = a.map((row, r) =>
    row.map((v, c) => {
      const state = pattern[r]![c];
      if (state === 1) primary++;
      if (state === 2) secondary++;
      return state === 0 ? roundCount(v, policy) : null;
    }),
  );
  return {
    rows: [...table.rows],
    columns: [...table.columns],
    cells: out.slice(0, R).map((row) => row.slice(0, C)),
    rowTotals: out.slice(0, R).map((row) => row[C]!),
    columnTotals: out[R]!.slice(0, C),
    total: out[R]![C]!,
    suppressed: { primary, secondary },
  };
}

/**
 * A one-way list of counts with its total (counts by age band, by sex …): a table of one row.
 */
export function releaseCounts(
  counts: Readonly<Record<string, number>>,
  policy: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
): { counts: Record<string, ReleasedCount>; total: ReleasedCount; suppressed: ReleasedTable['suppressed'] } {
  const labels = Object.keys(counts);
  const t = releaseTable({ rows: ['all'], columns: labels, cells: [labels.map((l) => counts[l]!)] }, policy);
  return {
    counts: Object.fromEntries(labels.map((l, i) => [l, t.cells[0]![i]!])),
    total: t.total,
    suppressed: t.suppressed,
  };
}

/**
 * The releasable version of summary statistics: `n` suppressed or rounded like any count; mean and SD dropped
 * when fewer than `minCellSize` people stand behind them; a quantile at probability p dropped unless at least
 * `minCellSize` people lie on each side of it (n·p and n·(1−p)), because a quantile is one person's value and the
 * extreme ones (minimum, maximum) single out a person.
 */
export function releaseSummary(
  summary: SummaryStatistics,
  policy: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
): ReleasedSummary {
  const n = summary.n;
  const out: ReleasedSummary = { n: releaseCount(n, policy), withheld: [] };
  const enough = n >= policy.minCellSize && n >= policy.threshold;
  for (const key of ['mean', 'sd'] as const) {
    const v = summary[key];
    if (v === undefined) continue;
    if (enough && Number.isFinite(v)) out[key] = v;
    else out.withheld.push(key);
  }
  if (summary.quantiles) {
    const kept: Record<string, number> = {};
    for (const [p, v] of Object.entries(summary.quantiles)) {
      const prob = Number(p);
      if (!(prob >= 0 && prob <= 1)) {
        throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `quantile key ${p} is not a probability in [0, 1]`, {
          path: `quantiles.${p}`,
        });
      }
      const side = Math.min(n * prob, n * (1 - prob));
      if (enough && side >= policy.minCellSize && Number.isFinite(v)) kept[p] = v;
      else out.withheld.push(`q${p}`);
    }
    out.quantiles = kept;
  }
  return out;
}
