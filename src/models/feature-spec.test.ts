import { describe, expect, it } from 'vitest';
import { faultOf } from '../../test/support/error-code.js';
import { validateFeatureSpec } from './feature-spec.js';

const spec = (population: Record<string, unknown>) => ({
  name: 'ihd',
  conceptSets: { ihd: { concepts: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I20', descendants: true }] } },
  population,
  outcome: { name: 'ihd', domain: 'condition', conceptSet: 'ihd', horizonDays: 1826 },
  features: [{ name: 'age', kind: 'age' }],
});

describe('feature spec: training index dates', () => {
  it('accepts distinct calendar dates before the index date', () => {
    const s = validateFeatureSpec(spec({ indexDate: '2021-01-01', trainingIndexDates: ['2018-01-01', '2019-07-01'] }));
    expect('indexDate' in s.population && s.population.trainingIndexDates).toEqual(['2018-01-01', '2019-07-01']);
  });

  it.each([
    [['2021-01-01'], 'population.trainingIndexDates[0]', /not before the index date 2021-01-01/],
    [['2018-01-01', '2022-01-01'], 'population.trainingIndexDates[1]', /not before/],
    [['2018-01-01', '2018-01-01'], 'population.trainingIndexDates[1]', /listed twice/],
    [['2019-02-30'], 'population.trainingIndexDates[0]', /not a calendar date/],
    [['2019-1-1'], 'population.trainingIndexDates[0]', /must match pattern/],
    [[], 'population.trainingIndexDates', /fewer than 1 items/],
  ])('refuses training dates %j, naming %s', (dates, path, message) => {
    let error: unknown;
    try {
      validateFeatureSpec(spec({ indexDate: '2021-01-01', trainingIndexDates: dates }));
    } catch (e) {
      error = e;
    }
    expect(faultOf(() => validateFeatureSpec(spec({ indexDate: '2021-01-01', trainingIndexDates: dates })))).toEqual({
      code: 'MODEL_INVALID_SPEC',
      location: { path },
    });
    expect(String((error as Error).message)).toMatch(message);
  });

  it('refuses training dates on a cohort population (its entries already carry their own dates)', () => {
    const fault = faultOf(() => validateFeatureSpec(spec({ cohort: {}, trainingIndexDates: ['2018-01-01'] })));
    expect(fault.code).toBe('MODEL_INVALID_SPEC');
  });
});
