import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DisclosurePolicy } from '../core/index.js';
import { isHealthmeshError } from '../core/index.js';
import { federatedPanel } from './federated-series.js';
import { flusightBaseline } from './flusight-baseline.js';
import type { HubSeries } from './hub-series.js';
import { MEDIAN_INDEX, QUANTILE_LEVELS } from './quantile-forecast.js';
import { checkReleasedSeries, type ReleasedHubSeries, releaseWeeklySeries } from './released-series.js';
import { forecastRound } from './rolling-forecast.js';
import { seriesFromRelease, spreadSuppressedMass } from './suppressed-weeks.js';
import { isoDay, parseIsoDay } from './weekly-series.js';

const DEFAULT: DisclosurePolicy = { threshold: 10, rounding: 5, minCellSize: 10 };
const START = parseIsoDay('2023-10-07') as number;

function hubSeries(ili: number[], confirmed: number[], start = START, location = 'busan'): HubSeries {
  return {
    ili: { location, locationName: location, startDay: start, values: Float64Array.from(ili) },
    confirmed: { location, locationName: location, startDay: start, values: Float64Array.from(confirmed) },
  };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isHealthmeshError(e) ? e.code : 'not a HealthmeshError';
  }
  return undefined;
}

describe('releasing a hub’s weekly series', () => {
  it('suppresses weeks under the threshold as null and rounds the others', () => {
    const r = releaseWeeklySeries(hubSeries([0, 3, 9, 10, 23, 41], [0, 1, 2, 0, 12, 20]), 'busan', DEFAULT);
    expect(r.ili).toEqual([null, null, null, 10, 25, 40]);
    expect(r.startDate).toBe('2023-10-07');
    expect(r.policy).toEqual({ threshold: 10, rounding: 5 });
    expect(r.suppressed.ili).toBe(3);
  });

  it('withholds the confirmed count when the unconfirmed visits it would reveal are under the threshold', () => {
    // Week 0: 30 ILI, 25 confirmed -> 5 unconfirmed: publishing 30 and 25 would tell anyone 5 were unconfirmed.
    // Week 1: 30 ILI, 12 confirmed -> 18 unconfirmed: both may be published.
    // Week 2: 15 ILI, 3 confirmed: confirmed under the threshold.
    const r = releaseWeeklySeries(hubSeries([30, 30, 15], [25, 12, 3]), 'busan', DEFAULT);
    expect(r.ili).toEqual([30, 30, 15]);
    expect(r.confirmed).toEqual([null, 10, null]);
    expect(r.suppressed.confirmed).toBe(2);
  });

  it('follows the releasing hub’s own policy', () => {
    const series = hubSeries([4, 7, 13], [1, 1, 2]);
    expect(releaseWeeklySeries(series, 'a', DEFAULT).ili).toEqual([null, null, 15]);
    const lenient = releaseWeeklySeries(series, 'b', { threshold: 5, rounding: 1, minCellSize: 5 });
    expect(lenient.ili).toEqual([null, 7, 13]);
    expect(lenient.policy).toEqual({ threshold: 5, rounding: 1 });
  });

  it('releases only the weeks through a given date', () => {
    const r = releaseWeeklySeries(hubSeries([20, 20, 20, 20], [0, 0, 0, 0]), 'busan', DEFAULT, {
      through: isoDay(START + 14),
    });
    expect(r.ili).toHaveLength(3);
    expect(codeOf(() => releaseWeeklySeries(hubSeries([1], [0]), 'x', DEFAULT, { through: '2023-13-01' }))).toBe(
      'SURVEILLANCE_BAD_DATE',
    );
  });

  it('never releases a count under the threshold, off the rounding grid, or a difference that reveals a small group', () => {
    const week = fc.tuple(fc.nat({ max: 60 }), fc.nat({ max: 60 })).map(([a, b]) => ({ ili: a + b, confirmed: a }));
    fc.assert(
      fc.property(
        fc.array(week, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 1, max: 10 }),
        (weeks, threshold, rounding) => {
          const policy = { threshold, rounding, minCellSize: threshold };
          const r = releaseWeeklySeries(
            hubSeries(
              weeks.map((w) => w.ili),
              weeks.map((w) => w.confirmed),
            ),
            'h',
            policy,
          );
          weeks.forEach((w, i) => {
            for (const v of [r.ili[i], r.confirmed[i]]) {
              if (v === null || v === undefined) continue;
              expect(v).toBeGreaterThanOrEqual(threshold);
              expect(v % rounding).toBe(0);
            }
            if (w.ili < threshold) expect(r.ili[i]).toBeNull();
            if (w.confirmed < threshold) expect(r.confirmed[i]).toBeNull();
            // Both published only when the unconfirmed visits, their difference, are not a small group.
            if (r.ili[i] !== null && r.confirmed[i] !== null) {
              expect(w.ili - w.confirmed).toBeGreaterThanOrEqual(threshold);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

function released(ili: (number | null)[], confirmed: (number | null)[], start = '2023-10-07'): ReleasedHubSeries {
  return {
    hub: 'busan',
    location: 'busan',
    startDate: start,
    ili,
    confirmed,
    policy: { threshold: 10, rounding: 5 },
    suppressed: { ili: ili.filter((v) => v === null).length, confirmed: confirmed.filter((v) => v === null).length },
  };
}

describe('reading suppressed weeks', () => {
  it('reads a suppressed week as the midpoint under the threshold, not zero, and lists it', () => {
    const s = seriesFromRelease(released([null, 15, null], [null, null, null]), 'ili');
    expect([...s.series.values]).toEqual([4.5, 15, 4.5]);
    expect(s.imputedWeeks).toEqual(['2023-10-07', '2023-10-21']);
  });

  it('caps a suppressed confirmed count by the same week’s released ILI count', () => {
    const s = seriesFromRelease(released([10, 30, null], [null, null, null]), 'confirmed');
    expect([...s.series.values]).toEqual([4.5, 4.5, 4.5]);
    const few = seriesFromRelease({ ...released([10], [null]), policy: { threshold: 25, rounding: 5 } }, 'confirmed');
    expect([...few.series.values]).toEqual([10]);
  });

  it('reads a confirmed count withheld to protect a few unconfirmed visits near the ILI count, by the nearby share', () => {
    // A season at its height, nearly every ILI visit tested: the peak week's unconfirmed visits (6) are under the
    // threshold, so the hub withholds its confirmed count (94) although it is far above the threshold.
    const ili = [40, 61, 100, 82, 50];
    const confirmed = [30, 50, 94, 68, 38];
    const release = releaseWeeklySeries(hubSeries(ili, confirmed), 'busan', DEFAULT);
    expect(release.confirmed).toEqual([30, 50, null, 70, 40]);
    const read = seriesFromRelease(release, 'confirmed');
    expect(read.series.values[2]).toBe(100 - 4.5); // the middle of 91 ... 100, not 4.5
    expect(read.imputedWeeks).toEqual(['2023-10-21']);
    // The same ILI count in a season where few visits are confirmed: the withheld count is the small one.
    const low = seriesFromRelease(
      releaseWeeklySeries(hubSeries(ili, [12, 15, 7, 20, 11]), 'busan', DEFAULT),
      'confirmed',
    );
    expect(low.series.values[2]).toBe(4.5);
  });

  it('refuses suppressed weeks when asked to, naming the hub', () => {
    expect(codeOf(() => seriesFromRelease(released([null, 15], [null, null]), 'ili', 'refuse'))).toBe(
      'SURVEILLANCE_SUPPRESSED_WEEK',
    );
    expect(seriesFromRelease(released([20, 15], [null, null]), 'ili', 'refuse').imputedWeeks).toEqual([]);
  });

  it('gives the forecasters the imputed value: a baseline after a suppressed week has its median there', () => {
    const gathered = {
      hubs: [
        released([20, 25, 15, 10, null], [null, null, null, null, null]),
        { ...released([30, 30, 35, 40], [10, 10, 15, 20], '2023-10-14'), hub: 'gwangju', location: 'gwangju' },
      ],
    };
    const { panel, imputedWeeks, target } = federatedPanel(gathered);
    expect(target).toBe('wk inc ili');
    expect(panel.locations).toEqual(['busan', 'gwangju']);
    expect(panel.weeks).toBe(5);
    expect(imputedWeeks).toEqual({ busan: ['2023-11-04'], gwangju: [] });
    const forecasts = forecastRound(panel, flusightBaseline({ nsims: 1000 }), parseIsoDay('2023-11-11') as number);
    const busan = forecasts.find((f) => f.location === 'busan' && f.horizon === 0);
    expect(busan?.values[MEDIAN_INDEX]).toBeCloseTo(4.5, 6);
  });
});

describe('bad input in federated series', () => {
  it('refuses to forecast a hub with two weeks of history, naming its location', () => {
    const gathered = {
      hubs: [
        released([20, 25, 15, 10, 20, 30, 35, 40], new Array(8).fill(null)),
        { ...released([30, 35], [10, 15], '2023-11-18'), hub: 'gwangju', location: 'gwangju' },
      ],
    };
    const { panel } = federatedPanel(gathered);
    let caught: unknown;
    try {
      forecastRound(panel, flusightBaseline({ nsims: 1000 }), parseIsoDay('2023-12-02') as number);
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ code: 'SURVEILLANCE_SHORT_HISTORY', location: { path: 'gwangju' } });
  });
});

describe('forecasts of the count from forecasts of the released count', () => {
  const forecast = (values: number[]) => ({
    referenceDay: START,
    location: 'busan',
    horizon: 0,
    values: Float64Array.from(values),
  });
  const thresholds = new Map([['busan', 10]]);

  it('spreads a forecast stuck at the imputed midpoint uniformly over 0 … threshold − 1', () => {
    const [f] = spreadSuppressedMass([forecast(new Array(23).fill(4.5))], thresholds);
    expect([...(f?.values ?? [])]).toEqual([...QUANTILE_LEVELS].map((l) => l * 9));
    expect(f?.values[MEDIAN_INDEX]).toBeCloseTo(4.5, 12);
  });

  it('keeps the quantiles at or above the threshold and spreads only the mass under it', () => {
    // 4.5 up to level 0.25 (index 6), then 10, 12, …: the curve crosses 10 at level 0.30 (index 7).
    const values = QUANTILE_LEVELS.map((_, i) => (i <= 6 ? 4.5 : 10 + 2 * (i - 7)));
    const [f] = spreadSuppressedMass([forecast(Array.from(values))], thresholds);
    const out = [...(f?.values ?? [])];
    for (let i = 7; i < 23; i++) expect(out[i]).toBe(values[i]);
    for (let i = 0; i <= 6; i++) expect(out[i]).toBeCloseTo(((QUANTILE_LEVELS[i] as number) / 0.3) * 9, 12);
    expect(out.every((v, i) => i === 0 || v >= (out[i - 1] as number))).toBe(true);
  });

  it('leaves a location without a threshold, or a forecast wholly above it, as it is', () => {
    const high = forecast(Array.from(QUANTILE_LEVELS, (_, i) => 20 + i));
    const other = { ...forecast(new Array(23).fill(1)), location: 'US' };
    const [a, b] = spreadSuppressedMass([high, other], thresholds);
    expect(a).toBe(high);
    expect(b).toBe(other);
  });
});

describe('checking a series a peer sent', () => {
  const good = released([null, 15], [null, 10]);
  it('accepts a well-formed release', () => {
    expect(checkReleasedSeries(JSON.parse(JSON.stringify(good)), 'busan')).toEqual(good);
  });
  it.each([
    ['not an object', 'oops'],
    ['a negative count', { ...good, ili: [-5, 15] }],
    ['a fractional count', { ...good, ili: [null, 12.5] }],
    ['unequal lengths', { ...good, confirmed: [null] }],
    ['a bad start date', { ...good, startDate: '2023-02-30' }],
    ['no policy', { ...good, policy: undefined }],
  ])('refuses %s with SURVEILLANCE_BAD_RELEASED_SERIES', (_label, body) => {
    expect(codeOf(() => checkReleasedSeries(body, 'busan'))).toBe('SURVEILLANCE_BAD_RELEASED_SERIES');
  });
});
