import { describe, expect, it } from 'vitest';
import { autoregressiveForecaster } from './autoregressive-forecaster.js';
import { flusightBaseline } from './flusight-baseline.js';
import { quantileSorted } from './order-statistics.js';
import { QUANTILE_LEVELS } from './quantile-forecast.js';
import { renewalForecaster } from './renewal-forecaster.js';
import { forecastRound, rollingForecast } from './rolling-forecast.js';
import { healthmeshEnsemble } from './season-evaluation.js';
import { buildPanel, type WeeklySeries } from './weekly-series.js';

const START = 19_000; // a day number; any grid start works
function series(location: string, values: number[]): WeeklySeries {
  return { location, locationName: location, startDay: START, values: Float64Array.from(values) };
}
const wave = (scale: number, n = 120) =>
  Array.from({ length: n }, (_, t) => Math.round(scale * (5 + 100 * Math.exp(-(((t % 52) - 30) ** 2) / 40))));

describe('FluSight baseline', () => {
  it('puts horizon 0 at the last value plus type-7 quantiles of the symmetrised changes, median flat at all horizons', () => {
    const values = [20, 25, 22, 30, 28, 35, 33, 40];
    const panel = buildPanel([series('01', values)]);
    const [q] = forecastRound(panel, flusightBaseline({ nsims: 20_001 }), START + 7 * values.length).map(
      (f) => f.values,
    );
    const changes = values.slice(1).flatMap((v, i) => [v - (values[i] as number), (values[i] as number) - v]);
    const sorted = Float64Array.from(changes).sort();
    // nsims evenly spaced probabilities read off the quantile function, then type-7 quantiles of those: equal to
    // the quantile function itself up to the grid's resolution.
    QUANTILE_LEVELS.forEach((p, i) => {
      expect(q?.[i]).toBeCloseTo(Math.max(0, 40 + quantileSorted(sorted, p)), 2);
    });
    const all = forecastRound(panel, flusightBaseline({ nsims: 20_001 }), START + 7 * values.length);
    for (const f of all) expect(f.values[11]).toBe(40);
    // Widening by horizon: each later horizon's 1%–99% range is wider.
    const widths = all.map((f) => (f.values[22] as number) - (f.values[0] as number));
    expect(widths[1]).toBeGreaterThan(widths[0] as number);
    expect(widths[3]).toBeGreaterThan(widths[2] as number);
  });

  it('is reproducible for a seed and floors at zero', () => {
    const panel = buildPanel([series('01', [3, 0, 5, 1, 0, 2, 0])]);
    const a = forecastRound(panel, flusightBaseline({ nsims: 5000, seed: 7 }), START + 49);
    const b = forecastRound(panel, flusightBaseline({ nsims: 5000, seed: 7 }), START + 49);
    expect(a.map((f) => Array.from(f.values))).toEqual(b.map((f) => Array.from(f.values)));
    for (const f of a) expect(Math.min(...f.values)).toBe(0);
  });
});

describe('stronger models', () => {
  const panel = buildPanel([series('01', wave(1)), series('02', wave(3)), series('US', wave(4))]);

  it('give 23 non-decreasing, non-negative quantiles for each of 4 horizons', () => {
    for (const model of [autoregressiveForecaster(), renewalForecaster(), healthmeshEnsemble()]) {
      const out = forecastRound(panel, model, START + 7 * 100);
      expect(out).toHaveLength(12);
      for (const f of out) {
        expect(f.values).toHaveLength(23);
        for (let i = 1; i < 23; i++) expect(f.values[i]).toBeGreaterThanOrEqual(f.values[i - 1] as number);
        expect(f.values[0]).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('never read a week at or after the reference date', () => {
    const day = START + 7 * 90;
    const changed = buildPanel([
      series(
        '01',
        wave(1).map((v, t) => (t >= 90 ? v * 50 : v)),
      ),
      series('02', wave(3)),
      series('US', wave(4)),
    ]);
    for (const model of [autoregressiveForecaster(), renewalForecaster(), healthmeshEnsemble()]) {
      const a = rollingForecast(panel, model, [day]);
      const b = rollingForecast(changed, model, [day]);
      expect(a.map((f) => Array.from(f.values))).toEqual(b.map((f) => Array.from(f.values)));
    }
  });
});
