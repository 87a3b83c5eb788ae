import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COHORT_SCHEMA, compileCohort, kaplanMeier, validateCohortDefinition } from './index.js';

describe('cohort language', () => {
  it('publishes the schema it validates with (docs/cohort.schema.json)', () => {
    const published = JSON.parse(
      readFileSync(new URL('../../docs/cohort.schema.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(published).toEqual(JSON.parse(JSON.stringify(COHORT_SCHEMA)));
  });

  it('names the field at fault', () => {
    const base = {
      name: 'x',
      conceptSets: { a: { concepts: [{ system: 's', code: 'c' }] } },
      entry: { domain: 'condition', conceptSet: 'a' },
    };
    const fault = (def: unknown) => {
      try {
        validateCohortDefinition(def);
        return 'valid';
      } catch (e) {
        return (
          (e as { code: string; location: { path: string } }).code +
          ' ' +
          (e as { location: { path: string } }).location.path
        );
      }
    };
    expect(fault(base)).toBe('valid');
    expect(fault({ ...base, extra: 1 })).toBe('COHORT_INVALID_DEFINITION ');
    expect(
      fault({ ...base, inclusion: [{ name: 'r', events: { domain: 'condition', conceptSet: 'b', window: {} } }] }),
    ).toBe('COHORT_UNKNOWN_CONCEPT_SET inclusion[0].events.conceptSet');
    expect(
      fault({
        ...base,
        inclusion: [{ name: 'r', events: { domain: 'condition', conceptSet: 'a', window: { start: 5, end: -5 } } }],
      }),
    ).toBe('COHORT_INVALID_DEFINITION inclusion[0].events.window');
    expect(fault({ ...base, priorObservationDays: -1 })).toBe('COHORT_INVALID_DEFINITION priorObservationDays');
    expect(fault({ ...base, exit: { type: 'event', domain: 'condition', conceptSet: 'zz' } })).toBe(
      'COHORT_UNKNOWN_CONCEPT_SET exit.conceptSet',
    );
  });

  it('compiles descendants by code prefix for ICD-10 and by the loaded hierarchy otherwise', () => {
    const c = compileCohort(
      validateCohortDefinition({
        name: 'x',
        conceptSets: {
          a: {
            concepts: [
              { system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11', descendants: true },
              { system: 'http://snomed.info/sct', code: '44054006', descendants: true },
            ],
          },
        },
        entry: { domain: 'condition', conceptSet: 'a' },
      }),
    );
    expect(c.flagsSql).toContain('LIKE');
    expect(c.params).toContain('E11%');
    expect(c.flagsSql).toContain('concept_ancestor');
  });
});

describe('Kaplan-Meier', () => {
  it('matches the product-limit estimate worked by hand', () => {
    // Times 1, 2+, 3, 3, 4+, 5: S(1) = 5/6; S(3) = 5/6 * (1 - 2/4) = 5/12; S(5) = 5/12 * (1 - 1/1) = 0.
    const curve = kaplanMeier([
      { days: 1, event: true },
      { days: 2, event: false },
      { days: 3, event: true },
      { days: 3, event: true },
      { days: 4, event: false },
      { days: 5, event: true },
    ]);
    expect(curve.map((p) => p.days)).toEqual([1, 3, 5]);
    expect(curve.map((p) => p.atRisk)).toEqual([6, 4, 1]);
    expect(curve[0]?.survival).toBeCloseTo(5 / 6, 12);
    expect(curve[1]?.survival).toBeCloseTo(5 / 12, 12);
    expect(curve[2]?.survival).toBe(0);
  });
});
