import { describe, expect, it } from 'vitest';
import { dateRange } from './date-range.js';

describe('dateRange', () => {
  it.each([
    ['2020', '2020-01-01T00:00:00.000Z', '2020-12-31T23:59:59.999Z'],
    ['2020-02', '2020-02-01T00:00:00.000Z', '2020-02-29T23:59:59.999Z'],
    ['2021-04-21', '2021-04-21T00:00:00.000Z', '2021-04-21T23:59:59.999Z'],
    ['2021-04-21T02:55:17+00:00', '2021-04-21T02:55:17.000Z', '2021-04-21T02:55:17.999Z'],
    ['2021-04-21T11:55:17+09:00', '2021-04-21T02:55:17.000Z', '2021-04-21T02:55:17.999Z'],
    ['2021-04-21T02:55:17.273Z', '2021-04-21T02:55:17.273Z', '2021-04-21T02:55:17.273Z'],
  ])('reads %s as a range at its precision', (value, low, high) => {
    const r = dateRange(value)!;
    expect(new Date(r.low).toISOString()).toBe(low);
    expect(new Date(r.high).toISOString()).toBe(high);
  });
  it('rejects what is not a date', () => {
    expect(dateRange('yesterday')).toBeUndefined();
    expect(dateRange('2020-1-1')).toBeUndefined();
  });
  it.each([
    '2015-13-45',
    '2015-13',
    '2015-00',
    '2023-02-30',
    '2023-02-29',
    '2021-04-31',
    '2021-04-00',
    '0000',
    '2021-04-21T24:00:00Z',
    '2021-04-21T10:60:00Z',
    '2021-04-21T10:00:61Z',
    '2021-04-21T10:00:00+15:00',
    '2021-04-21T10:00:00+09:60',
  ])('refuses %s, which is no calendar date or clock time', (value) => {
    expect(dateRange(value)).toBeUndefined();
  });
  it.each(['2024-02-29', '2021-12-31', '2021-04-21T23:59:60Z', '2021-04-21T10:00:00-14:00'])(
    'accepts the edge value %s',
    (value) => {
      expect(dateRange(value)).toBeDefined();
    },
  );
});
