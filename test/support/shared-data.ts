import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

/** `../shared/data` beside the checkout: real test data that a user's fresh clone does not have. */
export const SHARED_DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
export const hasSharedData = existsSync(SHARED_DATA);

/**
 * A suite that needs `../shared/data`: skipped with a visible notice when it is absent, but failing when
 * CI=true, because CI always has it and a silent skip there would hide a broken checkout.
 */
export function describeWithSharedData(name: string, fn: () => void): void {
  if (hasSharedData) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs ../shared/data, which CI always has', () => {
        throw new Error(`${SHARED_DATA} is missing on CI`);
      });
    });
  } else {
    console.warn(`NOTICE: skipping "${name}": ${SHARED_DATA} is absent (tests with real data run where it exists).`);
    describe.skip(name, fn);
  }
}

export function sharedPath(relative: string): string {
  return `${SHARED_DATA}${relative}`;
}
