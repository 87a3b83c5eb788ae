import { describe, expect, it } from 'vitest';
import { codeOf, faultOf } from '../../test/support/error-code.js';
import { firstStep, MAX_CITIZEN_POINTS, OpenExchanges } from './blinded-exchange.js';

const REFUSAL = { code: 'MYDATA_REACH_INVALID', what: 'consent match', idField: 'exchange' } as const;
const ID = 'abcdefghijklmnop';

describe('a blinded exchange at a peer', () => {
  it('takes a first step with a random id and 1 to 32 string points', () => {
    expect(firstStep(ID, ['p'], REFUSAL)).toEqual({ id: ID, points: ['p'] });
    const many = Array.from({ length: MAX_CITIZEN_POINTS }, (_, i) => `p${i}`);
    expect(firstStep(ID, many, REFUSAL).points).toHaveLength(MAX_CITIZEN_POINTS);
  });

  it.each([
    ['a short id', 'short', ['p']],
    ['an id with a slash', 'abcdefghijklmno/', ['p']],
    ['no points', ID, []],
    ['too many points', ID, Array.from({ length: MAX_CITIZEN_POINTS + 1 }, () => 'p')],
    ['a point that is not a string', ID, ['p', 3]],
    ['points that are not a list', ID, 'p'],
  ])('refuses %s with the exchange’s code', (_, id, points) => {
    expect(codeOf(() => firstStep(id, points, REFUSAL))).toBe('MYDATA_REACH_INVALID');
  });

  it('names the field when asked to', () => {
    expect(faultOf(() => firstStep(ID, [], { ...REFUSAL, withPath: true })).location).toEqual({ path: 'points' });
    expect(faultOf(() => firstStep(ID, [], REFUSAL)).location).toEqual({});
  });

  it('opens an id once and gives its state once, to the one it belongs to', () => {
    const open = new OpenExchanges<{ peer: string }>(REFUSAL);
    open.start(ID, 0, { peer: 'busan' });
    expect(codeOf(() => open.start(ID, 1, { peer: 'busan' }))).toBe('MYDATA_REACH_INVALID');
    expect(open.take(ID, 2, (s) => s.peer === 'gwangju')).toBeUndefined();
    expect(open.take(ID, 3, (s) => s.peer === 'busan')).toEqual({ peer: 'busan' });
    expect(open.take(ID, 4, () => true)).toBeUndefined();
    expect(open.take(42, 4, () => true)).toBeUndefined();
  });

  it('forgets a first step after five minutes', () => {
    const open = new OpenExchanges<string>(REFUSAL);
    open.start(ID, 0, 'state');
    expect(open.take(ID, 5 * 60_000 + 1, () => true)).toBeUndefined();
    // Expired ids are swept at the next start, so the id may open again.
    open.start(ID, 5 * 60_000 + 2, 'again');
    expect(open.take(ID, 5 * 60_000 + 3, () => true)).toBe('again');
  });
});
