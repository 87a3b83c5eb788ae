/**
 * The hypertension risk model the model tests train: 5-year incident I10 among adults at an index date, from age,
 * sex, mean systolic pressure (with a missing indicator) and the latest BMI. Tests vary it by spreading.
 */
export const HTN_CONCEPT_SETS = {
  htn: { concepts: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10', descendants: true }] },
  sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
  bmi: { concepts: [{ system: 'http://loinc.org', code: '39156-5' }] },
};

/** Age, sex and mean systolic pressure: the features every variant keeps. */
export const HTN_BASE_FEATURES = [
  { name: 'age', kind: 'age' },
  { name: 'male', kind: 'sex', value: 'male' },
  { name: 'sbp', kind: 'mean', conceptSet: 'sbp', window: { end: 0 }, missing: 'indicator' },
];

/** The feature spec (population, outcome, features) at `indexDate`. */
export function htnFeatureSpec(indexDate = '2021-01-01') {
  return {
    name: 'Hypertension within 5 years',
    conceptSets: HTN_CONCEPT_SETS,
    population: { indexDate, age: { min: 20 } },
    outcome: { name: 'hypertension', domain: 'condition', conceptSet: 'htn', horizonDays: 1826 },
    features: [
      ...HTN_BASE_FEATURES,
      { name: 'bmi', kind: 'latest', conceptSet: 'bmi', window: { start: -1095, end: 0 }, unit: 'kg/m2' },
    ],
  };
}

/** A whole training spec for `model`: the feature spec, an L2 logistic learner, a seeded 30% test split, a card. */
export function htnTrainingSpec(model: string, indexDate?: string) {
  return {
    model,
    ...htnFeatureSpec(indexDate),
    learner: { kind: 'logistic', l2: 1 },
    split: { testFraction: 0.3, seed: 3 },
    card: { title: 'Hypertension, 5-year risk', intendedUse: 'testing', limitations: ['synthetic data'] },
  };
}
