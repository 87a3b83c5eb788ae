import type { EpidemicThreshold } from '../core/index.js';
import type { SeriesPanel } from './weekly-series.js';

/** Weeks of history a default threshold reads: three seasons, as the CDC's regional baselines do. */
const BASELINE_WEEKS = 156;
/** Fewer observed weeks than a season give no default: one season has no non-epidemic baseline to speak of. */
const MIN_WEEKS = 52;
/** Weeks at or below this quantile of the window count as non-epidemic. */
const NON_EPIDEMIC_QUANTILE = 0.6;

/**
 * A location's default epidemic threshold from its own history, for locations `hub.json` gives none: the CDC/ECDC
 * seasonal baseline, mean + 2 SD of the non-epidemic weeks of the last three years. Without virology to mark the
 * off-season, the non-epidemic weeks are those at or below the 60th percentile of the window (an epidemic fills at
 * most a third of a year's weeks, so the lower 60% is off-season). Locations with under a year of data get none.
 */
export function seasonalThresholds(panel: SeriesPanel): Record<string, EpidemicThreshold> {
  const out: Record<string, EpidemicThreshold> = {};
  panel.locations.forEach((location, i) => {
    const row = panel.rows[i];
    if (row === undefined) return;
    const window = [...row.slice(Math.max(0, row.length - BASELINE_WEEKS))].filter((v) => Number.isFinite(v));
    if (window.length < MIN_WEEKS) return;
    const sorted = [...window].sort((a, b) => a - b);
    const cut = sorted[Math.floor(NON_EPIDEMIC_QUANTILE * (sorted.length - 1))] as number;
    const off = window.filter((v) => v <= cut);
    const mean = off.reduce((a, b) => a + b, 0) / off.length;
    const sd = Math.sqrt(off.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, off.length - 1));
    // At least one case a week: a silent off-season would otherwise alert on a single case.
    out[location] = { weeklyCount: Math.max(1, Math.round((mean + 2 * sd) * 10) / 10) };
  });
  return out;
}
