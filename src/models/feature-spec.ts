/**
 * The declarative feature spec of a risk model: which people (a cohort, or everyone alive and observed on a
 * fixed index date), which outcome (the first event of a concept set within a horizon after index) and which
 * features, each computed in SQL over the hub's event index and analytic tables (`hub-features.ts`). Concept
 * sets are those of the cohort language (docs/cohorts.md), so descendants resolve the same way. Guide:
 * docs/models.md, "Features from the hub".
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ConceptSet, Domain, Window } from '../cohort/index.js';
import { DOMAINS } from '../cohort/index.js';
import { firstSchemaError, HealthmeshError } from '../core/index.js';

/**
 * What to do with a missing value: `mean` puts the training mean in its place; `indicator` does that and adds a
 * 0/1 feature `<name>_missing`; `keep` leaves NaN (boosted trees route it; logistic regression refuses it);
 * `{ value }` puts a constant in its place.
 */
export type MissingPolicy = 'mean' | 'indicator' | 'keep' | { value: number };

/** A fixed index date for every person alive and observed on it, or the entries of a cohort definition. */
export type PopulationSpec =
  | {
      indexDate: string;
      /** Age at index, whole years. */
      age?: { min?: number; max?: number };
      /** Days of observation required before the index date (default 0: observed on the day itself). */
      priorObservationDays?: number;
      /**
       * Earlier index dates at which the training people also give rows (each date's population chosen as on the
       * index date: alive, observed, of age, free of the outcome). Training only: the held-out people are drawn
       * from the index date's rows and give no row at any date; scoring uses the index date alone.
       */
      trainingIndexDates?: string[];
    }
  | { cohort: unknown };

/** The first event of `conceptSet` in `domain` within (index, index + horizonDays]. People with one at or before index are left out. */
export interface OutcomeSpec {
  name: string;
  domain: Domain;
  conceptSet: string;
  horizonDays: number;
}

interface FeatureBase {
  name: string;
  description?: string;
}

/** One feature of the spec. Windows are days relative to the index date, both ends included (as in cohorts). */
export type FeatureDefinition = FeatureBase &
  (
    | { kind: 'age'; power?: 1 | 2 | 3; sex?: 'male' | 'female' }
    | { kind: 'sex'; value: 'male' | 'female' }
    | { kind: 'latest'; conceptSet: string; window: Window; unit?: string; missing?: MissingPolicy }
    | { kind: 'mean'; conceptSet: string; window: Window; unit?: string; missing?: MissingPolicy }
    | { kind: 'count'; domain: Domain; conceptSet: string; window: Window }
    | { kind: 'lifelog'; conceptSet: string; window: Window; unit?: string; missing?: MissingPolicy }
    | { kind: 'polygenic'; variants: { rsid: string; weight: number }[]; missing?: MissingPolicy }
  );

export interface FeatureSpec {
  name: string;
  description?: string;
  conceptSets: Record<string, ConceptSet>;
  population: PopulationSpec;
  outcome?: OutcomeSpec;
  features: FeatureDefinition[];
}

const window = {
  type: 'object',
  additionalProperties: false,
  properties: { start: { type: 'integer' }, end: { type: 'integer' } },
} as const;
const missing = {
  oneOf: [
    { enum: ['mean', 'indicator', 'keep'] },
    {
      type: 'object',
      additionalProperties: false,
      required: ['value'],
      properties: { value: { type: 'number' } },
    },
  ],
} as const;
const featureName = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.]{0,63}$' } as const;
const base = { name: featureName, description: { type: 'string' } } as const;
const setName = { type: 'string', minLength: 1 } as const;
const domain = { type: 'string', enum: DOMAINS } as const;
const isoDate = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

function kind<P extends Record<string, unknown>>(name: string, required: string[], properties: P) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'kind', ...required],
    properties: { ...base, kind: { const: name }, ...properties },
  } as const;
}

/** JSON Schema (draft 2020-12) of a feature spec; concept sets and the cohort are checked by the cohort module. */
export const FEATURE_SPEC_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'healthmesh risk-model feature spec',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'conceptSets', 'population', 'features'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    conceptSets: { type: 'object' },
    population: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['indexDate'],
          properties: {
            indexDate: isoDate,
            age: {
              type: 'object',
              additionalProperties: false,
              properties: { min: { type: 'number', minimum: 0 }, max: { type: 'number', minimum: 0 } },
            },
            priorObservationDays: { type: 'integer', minimum: 0 },
            trainingIndexDates: { type: 'array', minItems: 1, items: isoDate },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['cohort'],
          properties: { cohort: { type: 'object' } },
        },
      ],
    },
    outcome: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'domain', 'conceptSet', 'horizonDays'],
      properties: {
        name: { type: 'string', minLength: 1 },
        domain,
        conceptSet: setName,
        horizonDays: { type: 'integer', minimum: 1 },
      },
    },
    features: {
      type: 'array',
      minItems: 1,
      items: {
        oneOf: [
          kind('age', [], { power: { enum: [1, 2, 3] }, sex: { enum: ['male', 'female'] } }),
          kind('sex', ['value'], { value: { enum: ['male', 'female'] } }),
          kind('latest', ['conceptSet', 'window'], { conceptSet: setName, window, unit: setName, missing }),
          kind('mean', ['conceptSet', 'window'], { conceptSet: setName, window, unit: setName, missing }),
          kind('count', ['domain', 'conceptSet', 'window'], { domain, conceptSet: setName, window }),
          kind('lifelog', ['conceptSet', 'window'], { conceptSet: setName, window, unit: setName, missing }),
          kind('polygenic', ['variants'], {
            variants: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['rsid', 'weight'],
                properties: { rsid: { type: 'string', pattern: '^rs[0-9]+$' }, weight: { type: 'number' } },
              },
            },
            missing,
          }),
        ],
      },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: false, strict: true });
const validateSchema = ajv.compile<FeatureSpec>(FEATURE_SPEC_SCHEMA);

const isCalendarDate = (d: string) =>
  !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;

function invalid(path: string, message: string): HealthmeshError {
  return new HealthmeshError('MODEL_INVALID_SPEC', `${path === '' ? 'spec' : path}: ${message}`, { path });
}

/** The features' own columns, in order: each feature, then `<name>_missing` after those with the `indicator` policy. */
export function featureColumns(spec: FeatureSpec): string[] {
  const names: string[] = [];
  for (const f of spec.features) {
    names.push(f.name);
    if (missingPolicy(f) === 'indicator') names.push(`${f.name}_missing`);
  }
  return names;
}

/** A feature's missing-value policy, `mean` unless given (age, sex and counts are never missing: undefined). */
export function missingPolicy(f: FeatureDefinition): MissingPolicy | undefined {
  if (f.kind === 'age' || f.kind === 'sex' || f.kind === 'count') return undefined;
  return f.missing ?? 'mean';
}

/**
 * Parse and check a spec: the schema, then what it cannot say — every concept set named is defined, windows are in
 * order, feature names (with their `_missing` indicators) are unique, the index date is a real date and training
 * index dates are distinct real dates before it. Errors are `MODEL_INVALID_SPEC` naming the field, e.g.
 * `features[2].window` or `population.trainingIndexDates[1]`.
 */
export function validateFeatureSpec(input: unknown): FeatureSpec {
  if (!validateSchema(input)) {
    const { path, detail } = firstSchemaError(validateSchema.errors);
    throw invalid(path, detail);
  }
  const spec = input;
  const known = new Set(Object.keys(spec.conceptSets));
  const needSet = (path: string, name: string) => {
    if (!known.has(name)) {
      throw invalid(path, `no concept set named "${name}" (defined: ${[...known].join(', ') || 'none'})`);
    }
  };
  for (const [name, set] of Object.entries(spec.conceptSets)) {
    const concepts = (set as { concepts?: unknown }).concepts;
    if (!Array.isArray(concepts) || concepts.length === 0) {
      throw invalid(`conceptSets.${name}`, 'needs a non-empty "concepts" list of { system, code }');
    }
    concepts.forEach((c: unknown, i) => {
      const o = c as Record<string, unknown>;
      if (typeof o?.system !== 'string' || typeof o.code !== 'string' || o.system === '' || o.code === '') {
        throw invalid(`conceptSets.${name}.concepts[${i}]`, 'needs a system and a code');
      }
    });
  }
  if ('indexDate' in spec.population) {
    const d = spec.population.indexDate;
    if (!isCalendarDate(d)) throw invalid('population.indexDate', `${d} is not a calendar date`);
    const seenDates = new Set<string>();
    spec.population.trainingIndexDates?.forEach((t, i) => {
      const at = `population.trainingIndexDates[${i}]`;
      if (!isCalendarDate(t)) throw invalid(at, `${t} is not a calendar date`);
      if (t >= d) throw invalid(at, `${t} is not before the index date ${d} (training rows come from earlier dates)`);
      if (seenDates.has(t)) throw invalid(at, `${t} is listed twice`);
      seenDates.add(t);
    });
    const a = spec.population.age;
    if (a?.min !== undefined && a.max !== undefined && a.min > a.max) {
      throw invalid('population.age', `min ${a.min} is above max ${a.max}`);
    }
  }
  if (spec.outcome !== undefined) needSet('outcome.conceptSet', spec.outcome.conceptSet);
  spec.features.forEach((f, i) => {
    const at = `features[${i}]`;
    if ('conceptSet' in f) needSet(`${at}.conceptSet`, f.conceptSet);
    if ('window' in f && f.window.start !== undefined && f.window.end !== undefined && f.window.start > f.window.end) {
      throw invalid(`${at}.window`, `start ${f.window.start} is after end ${f.window.end}`);
    }
    if (f.kind === 'polygenic' && new Set(f.variants.map((v) => v.rsid)).size !== f.variants.length) {
      throw invalid(`${at}.variants`, 'a variant is listed twice');
    }
  });
  const columns = featureColumns(spec);
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw invalid('features', `the feature name ${c} is used twice`);
    seen.add(c);
  }
  return spec;
}
