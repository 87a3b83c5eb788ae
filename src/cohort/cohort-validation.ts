import { Ajv2020 } from 'ajv/dist/2020.js';
import { firstSchemaError, HealthmeshError } from '../core/index.js';
import type { CohortDefinition, ValueRange, Window } from './cohort-definition.js';
import { COHORT_SCHEMA } from './cohort-definition.js';

const ajv = new Ajv2020({ allErrors: false, strict: true, discriminator: true });
const validateSchema = ajv.compile<CohortDefinition>(COHORT_SCHEMA);

function invalid(path: string, message: string): HealthmeshError {
  return new HealthmeshError('COHORT_INVALID_DEFINITION', `${path === '' ? 'definition' : path}: ${message}`, { path });
}

function checkRange(path: string, r: { min?: number; max?: number } | undefined): void {
  if (r?.min !== undefined && r.max !== undefined && r.min > r.max)
    throw invalid(path, `min ${r.min} is above max ${r.max}`);
}

function checkWindow(path: string, w: Window): void {
  if (w.start !== undefined && w.end !== undefined && w.start > w.end) {
    throw invalid(path, `window start ${w.start} is after its end ${w.end}`);
  }
}

/**
 * Parse and check a definition: the JSON Schema first, then what a schema cannot say (bounds in order, every
 * concept set named in a rule defined). Errors name the field, e.g. `inclusion[1].events.conceptSet`.
 */
export function validateCohortDefinition(input: unknown): CohortDefinition {
  if (!validateSchema(input)) {
    const { path, detail } = firstSchemaError(validateSchema.errors);
    throw invalid(path, detail);
  }
  const def = input;
  const known = new Set(Object.keys(def.conceptSets));
  const needSet = (path: string, name: string) => {
    if (!known.has(name)) {
      throw new HealthmeshError(
        'COHORT_UNKNOWN_CONCEPT_SET',
        `${path}: no concept set named "${name}" (defined: ${[...known].join(', ') || 'none'})`,
        { path },
      );
    }
  };
  needSet('entry.conceptSet', def.entry.conceptSet);
  checkRange('entry.value', def.entry.value as ValueRange | undefined);
  (def.inclusion ?? []).forEach((rule, i) => {
    const at = `inclusion[${i}]`;
    if ('age' in rule) checkRange(`${at}.age`, rule.age);
    if ('measurement' in rule) {
      needSet(`${at}.measurement.conceptSet`, rule.measurement.conceptSet);
      checkWindow(`${at}.measurement.window`, rule.measurement.window);
      checkRange(`${at}.measurement.value`, rule.measurement.value);
    }
    if ('events' in rule) {
      needSet(`${at}.events.conceptSet`, rule.events.conceptSet);
      checkWindow(`${at}.events.window`, rule.events.window);
      checkRange(`${at}.events.count`, rule.events.count);
      checkRange(`${at}.events.value`, rule.events.value);
    }
  });
  if (def.exit?.type === 'event') needSet('exit.conceptSet', def.exit.conceptSet);
  return def;
}
