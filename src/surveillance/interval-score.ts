import { LEVEL_COUNT, MEDIAN_INDEX, QUANTILE_LEVELS } from './quantile-forecast.js';

/** The weighted interval score of one forecast and its parts (Bracher et al. 2021, PLoS Comput Biol 17:e1008618). */
export interface IntervalScore {
  /** WIS = (0.5 |y - m| + Σ_k (α_k / 2) IS_αk(y)) / (K + 0.5), over the K = 11 central intervals of the 23 levels. */
  readonly wis: number;
  /** Weighted widths (u - l) of the intervals: the forecast's spread, whatever happened. */
  readonly dispersion: number;
  /** Weighted penalties for truths below the lower bounds (the forecast was too high). */
  readonly overprediction: number;
  /** Weighted penalties for truths above the upper bounds (the forecast was too low). */
  readonly underprediction: number;
  /** |y - median|. */
  readonly absoluteError: number;
  /** y inside [q0.25, q0.75] (bounds included, as FluSight counts it). */
  readonly covered50: boolean;
  /** y inside [q0.025, q0.975]. */
  readonly covered95: boolean;
}

/** Number of central intervals among the 23 levels: (0.01, 0.99), (0.025, 0.975), …, (0.45, 0.55). */
const K = (LEVEL_COUNT - 1) / 2;
// Found in the level list rather than counted by hand: 5 and LEVEL_COUNT − 6 are the 0.20/0.80 levels, which made
// every "50%" coverage a 60% one.
const levelAt = (level: number): number => QUANTILE_LEVELS.findIndex((l) => Math.abs(l - level) < 1e-9);
const Q025 = levelAt(0.025);
const Q975 = levelAt(0.975);
const Q25 = levelAt(0.25);
const Q75 = levelAt(0.75);

/**
 * Scores one 23-level quantile forecast against the observed value `y`. Pass already-transformed values (e.g.
 * log1p of both) to score on another scale; coverage is unaffected by monotone transforms.
 */
export function intervalScore(quantiles: ArrayLike<number>, y: number): IntervalScore {
  const median = quantiles[MEDIAN_INDEX] as number;
  let dispersion = 0;
  let over = 0;
  let under = 0;
  for (let k = 0; k < K; k++) {
    const lower = quantiles[k] as number;
    const upper = quantiles[LEVEL_COUNT - 1 - k] as number;
    // α of the interval (q_τ, q_(1-τ)) is 2τ; its weight α/2 times IS_α = (u - l) + 2/α (l - y)+ + 2/α (y - u)+.
    const alpha = 2 * (QUANTILE_LEVELS[k] as number);
    dispersion += (alpha / 2) * (upper - lower);
    if (y < lower) over += lower - y;
    else if (y > upper) under += y - upper;
  }
  const absoluteError = Math.abs(y - median);
  const norm = K + 0.5;
  const medianPart = 0.5 * absoluteError;
  // The median's |y - m| / 2 counts as over- or underprediction, so the three parts add up to the WIS.
  const overprediction = (over + (y < median ? medianPart : 0)) / norm;
  const underprediction = (under + (y > median ? medianPart : 0)) / norm;
  return {
    wis: dispersion / norm + overprediction + underprediction,
    dispersion: dispersion / norm,
    overprediction,
    underprediction,
    absoluteError,
    covered50: y >= (quantiles[Q25] as number) && y <= (quantiles[Q75] as number),
    covered95: y >= (quantiles[Q025] as number) && y <= (quantiles[Q975] as number),
  };
}
