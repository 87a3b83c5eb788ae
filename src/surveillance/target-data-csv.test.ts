import { describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../core/index.js';
import { autoregressiveForecaster } from './autoregressive-forecaster.js';
import { flusightBaseline } from './flusight-baseline.js';
import { renewalForecaster } from './renewal-forecaster.js';
import { forecastRound } from './rolling-forecast.js';
import { parseTargetDataCsv } from './target-data-csv.js';
import { buildPanel, parseIsoDay } from './weekly-series.js';

function codeOf(fn: () => unknown): { code: string; line?: number; path?: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isHealthmeshError(e)) return { code: e.code, message: e.message, ...e.location };
    throw e;
  }
  throw new Error('expected an error');
}

const HEADER = 'date,location,location_name,value\n';

describe('hubverse target-data import', () => {
  it('reads weekly series per location, in date order', () => {
    const series = parseTargetDataCsv(
      `${HEADER}2024-01-13,01,Alabama,5\n2024-01-06,01,Alabama,3\n2024-01-06,02,Alaska,0\n`,
    );
    expect(series.map((s) => [s.location, s.locationName, Array.from(s.values)])).toEqual([
      ['01', 'Alabama', [3, 5]],
      ['02', 'Alaska', [0]],
    ]);
    expect(series[0]?.startDay).toBe(parseIsoDay('2024-01-06'));
  });

  it('reads the hubverse time-series layout and takes the latest release on or before asOf', () => {
    const text =
      'target_end_date,location,target,observation,as_of\n' +
      '2024-01-06,01,wk inc flu hosp,3,2024-01-10\n' +
      '2024-01-06,01,wk inc flu hosp,4,2024-01-17\n' +
      '2024-01-13,01,wk inc flu hosp,6,2024-01-17\n' +
      '2024-01-06,01,wk inc covid hosp,99,2024-01-10\n';
    const latest = parseTargetDataCsv(text, { target: 'wk inc flu hosp' });
    expect(Array.from(latest[0]?.values ?? [])).toEqual([4, 6]);
    const early = parseTargetDataCsv(text, { target: 'wk inc flu hosp', asOf: '2024-01-10' });
    expect(Array.from(early[0]?.values ?? [])).toEqual([3]);
  });

  it('refuses a gap inside a location, naming the location and the missing week', () => {
    const e = codeOf(() => parseTargetDataCsv(`${HEADER}2024-01-06,01,A,3\n2024-01-20,01,A,5\n`, { file: 'f.csv' }));
    expect(e.code).toBe('SURVEILLANCE_GAP');
    expect(e.path).toBe('01');
    expect(e.message).toContain('2024-01-13');
  });

  it('refuses a negative count, naming the file line and location', () => {
    const e = codeOf(() => parseTargetDataCsv(`${HEADER}2024-01-06,01,A,3\n2024-01-13,01,A,-1\n`));
    expect(e).toMatchObject({ code: 'SURVEILLANCE_NEGATIVE_COUNT', line: 3, path: '01' });
  });

  it('refuses a duplicate week, naming both lines', () => {
    const e = codeOf(() => parseTargetDataCsv(`${HEADER}2024-01-06,01,A,3\n2024-01-06,01,A,4\n`));
    expect(e).toMatchObject({ code: 'SURVEILLANCE_DUPLICATE_WEEK', line: 3, path: '01' });
    expect(e.message).toContain('line 2');
  });

  it('refuses missing columns, bad dates, values that are not numbers, and weeks off the 7-day grid', () => {
    expect(codeOf(() => parseTargetDataCsv('date,location,count\n2024-01-06,01,3\n')).code).toBe(
      'SURVEILLANCE_CSV_HEADER',
    );
    expect(codeOf(() => parseTargetDataCsv(`${HEADER}2024-02-30,01,A,3\n`))).toMatchObject({
      code: 'SURVEILLANCE_BAD_DATE',
      line: 2,
    });
    expect(codeOf(() => parseTargetDataCsv(`${HEADER}2024-01-06,01,A,NA\n`))).toMatchObject({
      code: 'SURVEILLANCE_BAD_VALUE',
      line: 2,
    });
    expect(codeOf(() => parseTargetDataCsv(`${HEADER}2024-01-06,01,A,3\n2024-01-10,01,A,3\n`)).code).toBe(
      'SURVEILLANCE_BAD_DATE',
    );
  });

  it('accepts a location with two weeks of history, and every forecaster refuses to forecast it by name', () => {
    const series = parseTargetDataCsv(
      `${HEADER}${Array.from({ length: 20 }, (_, i) => `${new Date(Date.UTC(2024, 0, 6 + 7 * i)).toISOString().slice(0, 10)},01,A,${10 + i}`).join('\n')}\n2024-05-11,99,New,4\n2024-05-18,99,New,6\n`,
    );
    expect(series.map((s) => s.values.length)).toEqual([20, 2]);
    const panel = buildPanel(series);
    for (const model of [flusightBaseline({ nsims: 100 }), autoregressiveForecaster(), renewalForecaster()]) {
      const e = codeOf(() => forecastRound(panel, model, parseIsoDay('2024-05-25') as number));
      expect(e).toMatchObject({ code: 'SURVEILLANCE_SHORT_HISTORY', path: '99' });
    }
  });
});
