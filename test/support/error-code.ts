import { HealthmeshError } from '../../src/core/index.js';

/** The code of the HealthmeshError `fn` throws; fails when it throws something else or nothing. */
export function codeOf(fn: () => unknown): string {
  return faultOf(fn).code;
}

/** The code and location of the HealthmeshError `fn` throws. */
export function faultOf(fn: () => unknown): { code: string; location: object } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HealthmeshError) return { code: e.code, location: e.location };
    throw e;
  }
  throw new Error('expected a HealthmeshError, but nothing was thrown');
}

/** The code of the HealthmeshError an async `fn` rejects with. */
export async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof HealthmeshError) return e.code;
    throw e;
  }
  throw new Error('expected a HealthmeshError, but nothing was thrown');
}
