import { describe, expect, it } from 'vitest';
import { seasonalThresholds } from './seasonal-threshold.js';
import type { SeriesPanel } from './weekly-series.js';

/** Three seasons of 10 ± 1 a week off-season and an eight-week epidemic peaking at 100 each winter. */
function seasons(weeks: number): Float64Array {
  const row = new Float64Array(weeks);
  for (let w = 0; w < weeks; w++) {
    const inSeason = w % 52;
    row[w] = inSeason >= 20 && inSeason < 28 ? 100 - Math.abs(inSeason - 24) * 20 : 10 + (w % 2 === 0 ? 1 : -1);
  }
  return row;
}

const panel = (rows: Float64Array[]): SeriesPanel => ({
  locations: rows.map((_, i) => `r${i}`),
  locationNames: rows.map((_, i) => `r${i}`),
  startDay: 0,
  weeks: rows[0]?.length ?? 0,
  rows,
});

describe("default epidemic thresholds from a region's own history", () => {
  it('sets mean + 2 SD of the off-season weeks: above the off-season, far below the peaks', () => {
    const t = seasonalThresholds(panel([seasons(156)])).r0?.weeklyCount ?? Number.NaN;
    // Off-season weeks alternate 11 and 9: mean 10, SD ~1, so the threshold sits near 12.
    expect(t).toBeGreaterThan(11);
    expect(t).toBeLessThan(13);
  });

  it('gives no threshold to a region with under a year of data', () => {
    const t = seasonalThresholds(panel([seasons(40)]));
    expect(t.r0).toBeUndefined();
  });
});
