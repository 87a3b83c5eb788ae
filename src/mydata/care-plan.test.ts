import { describe, expect, it } from 'vitest';
import { ageOn, carePlan } from './care-plan.js';

const LOINC = 'http://loinc.org';
const code = (system: string, c: string) => ({ coding: [{ system, code: c }] });
const obs = (loinc: string, day: string, value: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: code(LOINC, loinc),
  effectiveDateTime: `${day}T08:00:00+09:00`,
  valueQuantity: { value },
  ...extra,
});
const condition = (system: string, c: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Condition',
  code: code(system, c),
  ...extra,
});
const patient = (gender: string, birthDate: string) => ({ resourceType: 'Patient', gender, birthDate });

describe('a management plan from the targets the guidelines set for the conditions on the record', () => {
  it('sets tighter targets for diabetes with CKD and reads blood pressure from a panel', () => {
    const plan = carePlan(
      [
        patient('male', '1958-07'),
        condition('http://hl7.org/fhir/sid/icd-10', 'E11.9'),
        condition('http://snomed.info/sct', '433144002'),
        // Resolved and refuted conditions set nothing.
        condition('http://snomed.info/sct', '22298006', { clinicalStatus: code('x', 'resolved') }),
        condition('http://snomed.info/sct', '432504007', { verificationStatus: code('x', 'refuted') }),
        {
          resourceType: 'Observation',
          status: 'final',
          code: code(LOINC, '85354-9'),
          effectiveDateTime: '2026-05-01',
          component: [
            { code: code(LOINC, '8480-6'), valueQuantity: { value: 128 } },
            { code: code(LOINC, '8462-4'), valueQuantity: { value: 82 } },
          ],
        },
        obs('4548-4', '2026-01-10', 7.2),
        obs('4548-4', '2026-04-20', 6.9),
        obs('13457-7', '2025-11-02', 64),
      ],
      '2026-06-01',
    );
    expect(plan.age).toBe(67); // born July 1958 at the latest: 67 on 2026-06-01, not 68
    expect(plan.conditions).toEqual(['ckd', 'diabetes']);
    const t = Object.fromEntries(plan.targets.map((x) => [x.id, x]));
    // Diastolic 82 misses the 80 of 130/80 though the systolic is under.
    expect(t['blood-pressure']).toMatchObject({
      target: { max: 130, maxSecond: 80 },
      latest: { value: 128, second: 82, date: '2026-05-01' },
      status: 'not-met',
      because: ['diabetes', 'ckd'],
    });
    // The latest HbA1c counts; above target, it is due again in 3 months.
    expect(t.hba1c).toMatchObject({ latest: { value: 6.9 }, status: 'not-met', nextDue: '2026-07-20' });
    expect(t.ldl).toMatchObject({ target: { max: 70 }, status: 'met', nextDue: '2026-11-02' });
    expect(plan.screenings.map((s) => s.id)).toEqual([
      'general-health-check',
      'gastric-cancer',
      'colorectal-cancer',
      'influenza-vaccine',
    ]);
  });

  it('pairs a diastolic with its day, averages recent steps, and marks a current smoker', () => {
    const days = Array.from({ length: 10 }, (_, i) => `2026-05-${String(20 + i).padStart(2, '0')}`);
    const plan = carePlan(
      [
        patient('female', '1966-03-15'),
        obs('8480-6', '2026-05-02', 118),
        obs('8462-4', '2026-05-02', 76),
        ...days.map((d, i) => obs('41950-7', d, 5000 + i * 100)),
        obs('41950-7', '2026-03-01', 20_000), // older than 30 days: not counted
        {
          resourceType: 'Observation',
          status: 'final',
          code: code(LOINC, '72166-2'),
          effectiveDateTime: '2026-02-01',
          valueCodeableConcept: code('http://snomed.info/sct', '77176002'),
        },
      ],
      '2026-06-01',
    );
    const t = Object.fromEntries(plan.targets.map((x) => [x.id, x]));
    expect(t['blood-pressure']).toMatchObject({
      target: { max: 120, maxSecond: 80 },
      latest: { value: 118, second: 76 },
      status: 'met',
    });
    expect(t.steps).toMatchObject({ latest: { value: 5450, date: '2026-05-29' }, status: 'not-met' });
    expect(t.smoking).toMatchObject({ status: 'not-met' });
    expect(t.hba1c).toBeUndefined();
    const lung = plan.screenings.find((s) => s.id === 'lung-cancer');
    expect(lung).toMatchObject({ ask: 'pack-years', status: 'due', due: '2026-06-01' });
    expect(plan.screenings.map((s) => s.id)).toContain('breast-cancer');
  });

  it('counts a screening by its interval and a flu vaccine by its season', () => {
    const plan = carePlan(
      [
        patient('male', '1950-01-01'),
        {
          resourceType: 'Encounter',
          type: [code('http://snomed.info/sct', '185349003')],
          period: { start: '2025-03-04' },
        },
        {
          resourceType: 'Procedure',
          status: 'completed',
          code: code('http://snomed.info/sct', '73761001'),
          performedDateTime: '2025-01-10',
        },
        {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: code('http://hl7.org/fhir/sid/cvx', '150'),
          occurrenceDateTime: '2025-10-15',
        },
      ],
      '2026-02-01',
    );
    const s = Object.fromEntries(plan.screenings.map((x) => [x.id, x]));
    expect(s['general-health-check']).toMatchObject({ last: '2025-03-04', due: '2027-03-04', status: 'up-to-date' });
    expect(s['colorectal-cancer']).toMatchObject({ last: '2025-01-10', due: '2026-02-01', status: 'due' });
    expect(s['gastric-cancer']).toMatchObject({ last: null, status: 'due' });
    expect(s['influenza-vaccine']).toMatchObject({ last: '2025-10-15', due: '2026-09-01', status: 'up-to-date' });
    // The next season: last year's shot no longer counts.
    const later = carePlan(
      [
        patient('male', '1950-01-01'),
        {
          resourceType: 'Immunization',
          status: 'completed',
          vaccineCode: code('http://hl7.org/fhir/sid/cvx', '150'),
          occurrenceDateTime: '2025-10-15',
        },
      ],
      '2026-09-10',
    );
    expect(later.screenings.find((x) => x.id === 'influenza-vaccine')).toMatchObject({ status: 'due' });
  });

  it('never makes anyone older than they are from a generalised birth date', () => {
    expect(ageOn('1961-04-02', '2026-04-01')).toBe(64);
    expect(ageOn('1961-04-02', '2026-04-02')).toBe(65);
    expect(ageOn('1961-04', '2026-04-29')).toBe(64);
    expect(ageOn('1961-04', '2026-04-30')).toBe(65);
    expect(ageOn('1961', '2026-12-30')).toBe(64);
    expect(ageOn('1961', '2026-12-31')).toBe(65);
    expect(carePlan([], '2026-01-01')).toMatchObject({ age: null, screenings: [] });
  });
});
