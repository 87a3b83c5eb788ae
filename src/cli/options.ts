import { HealthmeshError } from '../core/index.js';

/** A whole number given for `--option`, or a clear error naming the option. */
export function wholeNumber(value: string, option: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) {
    throw new HealthmeshError('SYNTH_INVALID_OPTION', `--${option} must be a whole number, got "${value}"`, {
      path: option,
    });
  }
  return n;
}

/** A positive number of people for `--people`. */
export function parsePeople(value: string): number {
  const n = wholeNumber(value, 'people');
  if (n < 1)
    throw new HealthmeshError('SYNTH_INVALID_OPTION', `--people must be at least 1, got ${n}`, { path: 'people' });
  return n;
}
