import { describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../core/index.js';
import { findThresholdCrossings, quantileAt } from './epidemic-alerts.js';
import { QUANTILE_LEVELS, type QuantileForecast } from './quantile-forecast.js';

/** A forecast whose quantile at level p is `scale * p` (so the median is scale / 2). */
const forecast = (location: string, horizon: number, scale: number): QuantileForecast => ({
  referenceDay: 19_728, // 2024-01-06
  location,
  horizon,
  values: QUANTILE_LEVELS.map((p) => scale * p),
});

describe('epidemic alerts', () => {
  it('reads a forecast at one of the 23 levels, and linearly between two', () => {
    const f = forecast('a', 0, 100);
    expect(quantileAt(f.values, 0.5)).toBeCloseTo(50, 12);
    expect(quantileAt(f.values, 0.975)).toBeCloseTo(97.5, 12);
    expect(quantileAt(f.values, 0.9)).toBeCloseTo(90, 12);
    expect(quantileAt(f.values, 0.92)).toBeCloseTo(92, 12);
    try {
      quantileAt(f.values, 0.999);
      expect.unreachable();
    } catch (e) {
      expect(isHealthmeshError(e) && e.code).toBe('SURVEILLANCE_BAD_THRESHOLD');
    }
  });

  it('raises one alert per round and location, at the earliest horizon whose quantile reaches the threshold', () => {
    // Medians 40, 60, 80, 100 for horizons 0..3 at location a; b stays at 10 (threshold 3 per 1,000 of 5,000 = 15); c has no threshold.
    const forecasts = [0, 1, 2, 3].flatMap((h) => [
      forecast('a', h, 80 + 40 * h),
      forecast('b', h, 20),
      forecast('c', h, 1000),
    ]);
    const alerts = findThresholdCrossings(
      forecasts,
      { a: { weeklyCount: 60 }, b: { ratePer1000: 3, population: 5000 } },
      0.5,
      'm',
      't',
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      location: 'a',
      horizon: 1,
      forecastValue: 60,
      threshold: 60,
      referenceDate: '2024-01-06',
      targetEndDate: '2024-01-13',
    });
    // Judged on the 95% upper bound instead, b's 19.5 still stays under its 5 per 1,000 of 5,000 = 25.
    expect(findThresholdCrossings(forecasts, { b: { ratePer1000: 5, population: 5000 } }, 0.975, 'm', 't')).toEqual([]);
    expect(
      findThresholdCrossings(forecasts, { b: { ratePer1000: 3, population: 5000 } }, 0.975, 'm', 't'),
    ).toHaveLength(1);
  });
});
