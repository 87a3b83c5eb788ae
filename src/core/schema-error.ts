import type { ErrorObject } from 'ajv';

/** `/inclusion/2/age/min` → `inclusion[2].age.min`: the way people read a field's place. */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '');
}

/**
 * The first JSON Schema error of a validation (Ajv) as the field it is about and a sentence a person can act on:
 * an unknown or missing field is named, other faults keep the validator's message.
 */
export function firstSchemaError(errors: readonly ErrorObject[] | null | undefined): { path: string; detail: string } {
  const e = errors?.[0];
  const detail =
    e?.keyword === 'additionalProperties'
      ? `unknown field "${String((e.params as { additionalProperty: string }).additionalProperty)}"`
      : e?.keyword === 'required'
        ? `missing field "${String((e.params as { missingProperty: string }).missingProperty)}"`
        : (e?.message ?? 'invalid');
  return { path: fieldPath(e?.instancePath ?? ''), detail };
}
