import { HealthmeshError } from '../core/index.js';

/** The fields of a request that reached the admin socket: checked, since JSON can hold anything. */
export function inputObject(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new HealthmeshError('API_BAD_REQUEST', 'an admin request body must be a JSON object');
  return input as Record<string, unknown>;
}

export function stringField(input: Record<string, unknown>, key: string): string {
  const v = input[key];
  if (typeof v !== 'string') throw new HealthmeshError('API_BAD_REQUEST', `'${key}' must be a string`, { path: key });
  return v;
}

export function optionalStringField(input: Record<string, unknown>, key: string): string | undefined {
  return input[key] === undefined ? undefined : stringField(input, key);
}

export function stringsField(input: Record<string, unknown>, key: string): string[] {
  const v = input[key];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new HealthmeshError('API_BAD_REQUEST', `'${key}' must be an array of strings`, { path: key });
  return v;
}
