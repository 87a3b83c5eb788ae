/**
 * Quantiles that can be pooled across hubs. A hub's released quantiles do not combine into the quantiles of the
 * union, and a mergeable sketch of raw values (t-digest centroids, a fine histogram) would publish single people's
 * values in its sparse tails. So each hub releases a histogram whose bins each hold at least the disclosure
 * threshold of people, with edges on a fixed relative grid (±1% steps: an edge is a grid point, never a person's
 * own value) and both outer bins open-ended (no minimum or maximum is published). The coordinator sums the hubs'
 * cumulative counts and reads each quantile off the sum: an estimate (uniform spread inside a bin) and bounds that
 * hold whatever the spread inside the bins is. The widths of the bins where a quantile falls bound its error.
 */
import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import { DEFAULT_DISCLOSURE_POLICY, roundCount } from './disclosure-control.js';

/** Ratio between consecutive grid edges: values are placed in (γ^(i-1), γ^i]. */
export const VALUE_GRID_RATIO = 1.01;

/**
 * The grid cell of a value as SQL over `column`: `ceil(ln v / ln γ)` for positive values, NULL for zero and
 * negative values (one cell with upper edge 0; the measurements this serves are positive quantities).
 */
export function gridCellSql(column: string): string {
  return `CASE WHEN ${column} > 0 THEN CAST(CEIL(LN(${column}) / LN(${VALUE_GRID_RATIO})) AS INTEGER) ELSE NULL END`;
}

/** The grid cell of one value, as `gridCellSql` computes it. */
export function gridCell(v: number): number | null {
  return v > 0 ? Math.ceil(Math.log(v) / Math.log(VALUE_GRID_RATIO)) : null;
}

/** The upper edge of a grid cell (null: the cell of values ≤ 0). */
export function gridEdge(cell: number | null): number {
  return cell === null ? 0 : VALUE_GRID_RATIO ** cell;
}

/**
 * A released histogram: bins (−∞, e0], (e0, e1], …, (e_last, +∞); `counts` has one more entry than `edges`,
 * each at least the threshold before rounding, then rounded like any released count.
 */
export interface ReleasedHistogram {
  edges: number[];
  counts: number[];
}

/**
 * Coarsen grid cells (`cell` null = values ≤ 0) into bins of at least max(threshold, minCellSize) people each.
 * Returns null when fewer than two such bins fit (a single bin would only repeat the released count).
 */
export function releaseHistogram(
  cells: readonly { cell: number | null; count: number }[],
  policy: DisclosurePolicy = DEFAULT_DISCLOSURE_POLICY,
): ReleasedHistogram | null {
  const k = Math.max(policy.threshold, policy.minCellSize, 1);
  const sorted = [...cells].sort((a, b) => (a.cell ?? -Infinity) - (b.cell ?? -Infinity));
  let total = 0;
  for (const c of sorted) {
    if (!Number.isInteger(c.count) || c.count < 0) {
      throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `a histogram count must be a non-negative integer`);
    }
    total += c.count;
  }
  if (total < 2 * k) return null;
  const edges: number[] = [];
  const counts: number[] = [];
  let taken = 0;
  let bin = 0;
  for (const c of sorted) {
    bin += c.count;
    if (bin >= k && total - taken - bin >= k) {
      edges.push(gridEdge(c.cell));
      counts.push(bin);
      taken += bin;
      bin = 0;
    }
  }
  counts.push(total - taken);
  return { edges, counts: counts.map((n) => roundCount(n, policy)) };
}

/** A pooled quantile: the estimate, and bounds that hold whatever the spread of values inside each bin. */
export interface PooledQuantile {
  estimate: number;
  low: number;
  high: number;
}

interface Bin {
  lo: number;
  hi: number;
  n: number;
}

function binsOf(h: ReleasedHistogram, where: string): Bin[] {
  const { edges, counts } = h;
  if (counts.length !== edges.length + 1 || counts.some((c) => !(c >= 0)) || edges.some((e) => !Number.isFinite(e))) {
    throw new HealthmeshError(
      'DISCLOSURE_INVALID_TABLE',
      `${where}: a histogram needs finite edges and one more count`,
    );
  }
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i]! > edges[i - 1]!)) {
      throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `${where}: histogram edges must increase`);
    }
  }
  return counts.map((n, i) => ({
    lo: i === 0 ? -Infinity : edges[i - 1]!,
    hi: i === edges.length ? Infinity : edges[i]!,
    n,
  }));
}

/** Estimated persons ≤ x: bins wholly at or below x, plus a uniform share of the finite bin x falls in. */
function estimatedBelow(bins: readonly Bin[], x: number): number {
  let n = 0;
  for (const b of bins) {
    if (b.hi <= x) n += b.n;
    else if (b.lo < x && Number.isFinite(b.lo) && Number.isFinite(b.hi)) n += (b.n * (x - b.lo)) / (b.hi - b.lo);
  }
  return n;
}

/**
 * Quantiles of the union of the hubs' people from their released histograms. With F the true number of people
 * at or below x, L(x) = people in bins wholly at or below x ≤ F(x) ≤ U(x) = people in bins reaching below x, so
 * the quantile lies between the first edge where U passes the target and the first edge where L reaches it. A
 * quantile is null when a bound is infinite: it falls in some hub's open outer bin.
 */
export function poolQuantiles(
  histograms: readonly ReleasedHistogram[],
  probabilities: readonly number[],
): Record<string, PooledQuantile | null> {
  const bins = histograms.flatMap((h, i) => binsOf(h, `histogram ${i + 1}`));
  const total = bins.reduce((s, b) => s + b.n, 0);
  const points = [...new Set(bins.flatMap((b) => [b.lo, b.hi]).filter(Number.isFinite))].sort((a, b) => a - b);
  const openBelow = bins.filter((b) => b.lo === -Infinity).reduce((s, b) => s + b.n, 0);
  const out: Record<string, PooledQuantile | null> = {};
  for (const p of probabilities) {
    if (!(p > 0 && p < 1)) {
      throw new HealthmeshError('DISCLOSURE_INVALID_TABLE', `quantile ${p} is not a probability in (0, 1)`);
    }
    const target = p * total;
    // U just above an edge e counts every bin starting at or below e; below every edge it is the open lower bins.
    const low =
      openBelow >= target
        ? undefined
        : points.find((e) => bins.reduce((s, b) => s + (b.lo <= e ? b.n : 0), 0) >= target);
    const high = points.find((e) => bins.reduce((s, b) => s + (b.hi <= e ? b.n : 0), 0) >= target);
    out[String(p)] =
      total === 0 || low === undefined || high === undefined
        ? null
        : { estimate: estimateAt(bins, points, target), low, high };
  }
  return out;
}

/**
 * The smallest x whose estimated count reaches the target. The estimate is linear between edges and jumps only
 * at the upper edge of an open lower bin (its people counted there), so each gap is solved in closed form. It
 * lies within the bounds because L ≤ estimate ≤ U everywhere.
 */
function estimateAt(bins: readonly Bin[], points: readonly number[], target: number): number {
  let prev = points[0]!;
  let prevValue = estimatedBelow(bins, prev);
  if (prevValue >= target) return prev;
  for (const x of points.slice(1)) {
    const at = estimatedBelow(bins, x);
    const jump = bins.reduce((s, b) => s + (b.lo === -Infinity && b.hi === x ? b.n : 0), 0);
    const before = at - jump;
    if (before >= target) return prev + ((x - prev) * (target - prevValue)) / (before - prevValue);
    if (at >= target) return x;
    prev = x;
    prevValue = at;
  }
  return prev;
}
