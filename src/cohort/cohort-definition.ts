/**
 * The cohort definition language: a population defined once, as JSON, and answered by every hub from its own
 * data. The schema below is the contract (published as docs/cohort.schema.json; guide in docs/cohorts.md).
 */

import { DOMAINS, type Domain } from './cohort-domains.js';

export { DOMAINS, type Domain };

export interface Concept {
  system: string;
  code: string;
  /** Include the code's descendants: by the loaded hierarchy (OMOP concept ancestry), or by code prefix for ICD-10 and ATC. */
  descendants?: boolean;
  /** Remove this concept (and its descendants when set) from the set. */
  exclude?: boolean;
}

export interface ConceptSet {
  concepts: Concept[];
}

export interface ValueRange {
  min?: number;
  max?: number;
  /** The unit the bounds are in; rows in another unit never match. */
  unit?: string;
}

/** Days relative to the index date; a missing bound is unbounded (all history before, all data after). */
export interface Window {
  start?: number;
  end?: number;
}

export interface EntryEvent {
  domain: Domain;
  conceptSet: string;
  /** `first`: each person's first qualifying event (default); `all`: every qualifying event. */
  occurrence?: 'first' | 'all';
  value?: ValueRange;
}

export interface EventCriterion {
  domain: Domain;
  conceptSet: string;
  window: Window;
  value?: ValueRange;
  /** How many events in the window: presence is `{ min: 1 }` (the default), absence `{ max: 0 }`. */
  count?: { min?: number; max?: number };
}

export interface MeasurementCriterion {
  conceptSet: string;
  window: Window;
  /** The latest value in the window (default) or any value in it must be in range. */
  use?: 'latest' | 'any';
  value: ValueRange;
}

export type InclusionRule = { name: string } & (
  | { age: { min?: number; max?: number } }
  | { sex: ('male' | 'female' | 'other' | 'unknown')[] }
  | { region: string[] }
  | { measurement: MeasurementCriterion }
  | { events: EventCriterion }
);

export type Exit =
  | { type: 'endOfData' }
  | { type: 'fixedOffset'; days: number }
  | { type: 'event'; domain: Domain; conceptSet: string };

export interface CohortDefinition {
  name: string;
  description?: string;
  conceptSets: Record<string, ConceptSet>;
  entry: EntryEvent;
  /** Days of observation required before the index date (default 0). */
  priorObservationDays?: number;
  inclusion?: InclusionRule[];
  /** When each person leaves the cohort (default: end of their data). */
  exit?: Exit;
}

const valueRange = {
  type: 'object',
  additionalProperties: false,
  properties: { min: { type: 'number' }, max: { type: 'number' }, unit: { type: 'string', minLength: 1 } },
  minProperties: 1,
} as const;

/**
 * Bounds on the integers of a definition: a million days is ~2,700 years, beyond any record, and keeps every
 * date offset and count inside what the SQL engines compute exactly (1e20 days overflowed them: a 500).
 */
export const MAX_COHORT_DAYS = 1_000_000;
/** The largest event count a rule may ask for. */
export const MAX_COHORT_COUNT = 1_000_000;
/** The largest age, in years, a rule may name. */
export const MAX_COHORT_AGE = 200;
const days = { type: 'integer', minimum: 0, maximum: MAX_COHORT_DAYS } as const;
const offset = { type: 'integer', minimum: -MAX_COHORT_DAYS, maximum: MAX_COHORT_DAYS } as const;
const count = { type: 'integer', minimum: 0, maximum: MAX_COHORT_COUNT } as const;
const age = { type: 'number', minimum: 0, maximum: MAX_COHORT_AGE } as const;

const window = {
  type: 'object',
  additionalProperties: false,
  properties: { start: offset, end: offset },
  description: 'days relative to the index date; negative is before it; a missing bound is unbounded',
} as const;

const domain = { type: 'string', enum: DOMAINS } as const;
const setName = { type: 'string', minLength: 1 } as const;

/** JSON Schema (draft 2020-12) of a cohort definition. */
export const COHORT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://healthmesh.example/schema/cohort.schema.json',
  title: 'healthmesh cohort definition',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'conceptSets', 'entry'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    conceptSets: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['concepts'],
        properties: {
          concepts: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['system', 'code'],
              properties: {
                system: { type: 'string', minLength: 1 },
                code: { type: 'string', minLength: 1 },
                descendants: { type: 'boolean' },
                exclude: { type: 'boolean' },
              },
            },
          },
        },
      },
    },
    entry: {
      type: 'object',
      additionalProperties: false,
      required: ['domain', 'conceptSet'],
      properties: { domain, conceptSet: setName, occurrence: { enum: ['first', 'all'] }, value: valueRange },
    },
    priorObservationDays: days,
    inclusion: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        minProperties: 2,
        maxProperties: 2,
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          age: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { min: age, max: age },
          },
          sex: { type: 'array', minItems: 1, items: { enum: ['male', 'female', 'other', 'unknown'] } },
          region: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          measurement: {
            type: 'object',
            additionalProperties: false,
            required: ['conceptSet', 'window', 'value'],
            properties: { conceptSet: setName, window, use: { enum: ['latest', 'any'] }, value: valueRange },
          },
          events: {
            type: 'object',
            additionalProperties: false,
            required: ['domain', 'conceptSet', 'window'],
            properties: {
              domain,
              conceptSet: setName,
              window,
              value: valueRange,
              count: {
                type: 'object',
                additionalProperties: false,
                minProperties: 1,
                properties: { min: count, max: count },
              },
            },
          },
        },
      },
    },
    exit: {
      // Only the branch its `type` names is checked, so a fault is reported at its field (`exit.days`), not as
      // an unknown field of another branch.
      type: 'object',
      discriminator: { propertyName: 'type' },
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: { type: { const: 'endOfData' } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'days'],
          properties: { type: { const: 'fixedOffset' }, days },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'domain', 'conceptSet'],
          properties: { type: { const: 'event' }, domain, conceptSet: setName },
        },
      ],
    },
  },
} as const;
