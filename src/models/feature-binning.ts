import type { Random } from '../core/index.js';
import type { FeatureMatrix } from './feature-matrix.js';

/** The bin that holds missing values (NaN): value bins are 0..254, so a bin index always fits a byte. */
export const MISSING_BIN = 255;
/** At most this many bins of values per feature. */
export const MAX_VALUE_BINS = 255;
/** Edges come from at most this many rows (a seeded sample): quantiles of 200k rows are exact enough. */
const EDGE_SAMPLE_ROWS = 200_000;

/**
 * Per feature, the ascending upper edges of its value bins: a value x goes to the first bin b with x ≤ edges[b],
 * or to the last bin (edges.length) when it exceeds every edge. Hence bin(x) ≤ b ⇔ x ≤ edges[b], so a split
 * learned on bins is the same rule on raw values with threshold edges[b].
 */
export interface BinEdges {
  readonly edges: readonly Float64Array[];
}

/** Number of value bins of feature j (edges + 1). */
export function valueBins(bins: BinEdges, j: number): number {
  return bins.edges[j]!.length + 1;
}

/**
 * Quantile edges per feature. With at most `maxBins` distinct values, one bin per value (edges at midpoints);
 * otherwise edges at the k/maxBins quantiles of the (sampled) non-missing values, duplicates removed.
 */
export function fitBinEdges(m: FeatureMatrix, rng: Random, maxBins = MAX_VALUE_BINS): BinEdges {
  const p = m.names.length;
  const sample = sampleRows(m.rows, EDGE_SAMPLE_ROWS, rng);
  const column = new Float64Array(sample.length);
  const edges: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    let n = 0;
    for (let k = 0; k < sample.length; k++) {
      const x = m.values[sample[k]! * p + j]!;
      if (!Number.isNaN(x)) column[n++] = x;
    }
    const sorted = column.subarray(0, n).sort();
    edges.push(edgesOf(sorted, maxBins));
  }
  return { edges };
}

function edgesOf(sorted: Float64Array, maxBins: number): Float64Array {
  const distinct: number[] = [];
  for (let k = 0; k < sorted.length && distinct.length <= maxBins; k++) {
    if (k === 0 || sorted[k]! !== sorted[k - 1]!) distinct.push(sorted[k]!);
  }
  if (distinct.length <= maxBins) {
    const out = new Float64Array(Math.max(0, distinct.length - 1));
    for (let k = 0; k < out.length; k++) out[k] = distinct[k]! + (distinct[k + 1]! - distinct[k]!) / 2;
    return out;
  }
  const out: number[] = [];
  for (let k = 1; k < maxBins; k++) {
    const q = sorted[Math.floor((k * sorted.length) / maxBins)]!;
    if (out.length === 0 || q > out[out.length - 1]!) out.push(q);
  }
  // The largest value must not sit on the last edge alone, or the top bin would be empty.
  if (out[out.length - 1]! >= sorted[sorted.length - 1]!) out.pop();
  return Float64Array.from(out);
}

function sampleRows(rows: number, max: number, rng: Random): Uint32Array {
  if (rows <= max) return Uint32Array.from({ length: rows }, (_, i) => i);
  // Selection sampling (Knuth's algorithm S): exactly `max` rows, in order, one uniform draw per row.
  const out = new Uint32Array(max);
  let chosen = 0;
  for (let i = 0; i < rows && chosen < max; i++) {
    if ((rows - i) * rng.next() < max - chosen) out[chosen++] = i;
  }
  return out;
}

/**
 * The bins of every value, row-major like the matrix (one byte per value; NaN → MISSING_BIN). Row-major because
 * a histogram pass then reads one row's bins from one cache line: measured 2x faster per update here than
 * column-major bins with per-feature passes (the LightGBM layout).
 */
export function binMatrix(m: FeatureMatrix, bins: BinEdges): Uint8Array {
  const p = m.names.length;
  const out = new Uint8Array(m.rows * p);
  for (let j = 0; j < p; j++) {
    const e = bins.edges[j]!;
    for (let i = 0; i < m.rows; i++) out[i * p + j] = binOf(m.values[i * p + j]!, e);
  }
  return out;
}

/** Binary search for the first edge ≥ x. */
export function binOf(x: number, edges: Float64Array): number {
  if (Number.isNaN(x)) return MISSING_BIN;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
