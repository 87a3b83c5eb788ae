import type { Random } from '../core/index.js';
import { HealthmeshError, shuffledIndices } from '../core/index.js';

/** Row indices of a split, each side in ascending order. */
export interface RowSplit {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * A random split with `testFraction` of the rows in the test side (rounded down, at least one row each side).
 * With `stratify` (the outcome), each class is split in that proportion, so both sides keep the prevalence.
 */
export function randomSplit(rows: number, testFraction: number, rng: Random, stratify?: ArrayLike<number>): RowSplit {
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `test fraction must be in (0, 1), not ${testFraction}`);
  }
  if (stratify && stratify.length !== rows) {
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${stratify.length} outcomes for ${rows} rows`);
  }
  const order = shuffledIndices(rows, rng);
  const test: number[] = [];
  const train: number[] = [];
  if (stratify) {
    for (const cls of [0, 1]) {
      const members = Array.from(order).filter((i) => stratify[i] === cls);
      const cut = Math.floor(members.length * testFraction);
      test.push(...members.slice(0, cut));
      train.push(...members.slice(cut));
    }
  } else {
    const cut = Math.floor(rows * testFraction);
    test.push(...order.subarray(0, cut));
    train.push(...order.subarray(cut));
  }
  return finish(train, test, `a ${testFraction} random split of ${rows} rows`);
}

/**
 * A split by person for rows at several index dates: the rows at the main date (`main[i]`) are split as
 * `randomSplit` splits them (the same rows for the same seed as without the other dates), and every other row
 * of a person not held out trains. A held-out person gives no row to training at any date, so the test side
 * says how the model does on people it never saw. `person[i]` is the row's person key.
 */
export function personSplit(
  person: readonly string[],
  main: ArrayLike<boolean>,
  testFraction: number,
  rng: Random,
  stratify?: ArrayLike<number>,
): RowSplit {
  if (main.length !== person.length || (stratify && stratify.length !== person.length)) {
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${person.length} rows but ${main.length} main-date flags`);
  }
  const mainRows: number[] = [];
  for (let i = 0; i < person.length; i++) if (main[i]) mainRows.push(i);
  const y = stratify ? mainRows.map((i) => stratify[i]!) : undefined;
  const inner = randomSplit(mainRows.length, testFraction, rng, y);
  const test = Array.from(inner.test, (j) => mainRows[j]!);
  const heldOut = new Set(test.map((i) => person[i]!));
  const train: number[] = [];
  for (let i = 0; i < person.length; i++) if (!heldOut.has(person[i]!)) train.push(i);
  return finish(train, test, `a ${testFraction} split by person of ${mainRows.length} main-date rows`);
}

/**
 * A temporal split: rows with time < `cutoff` train, rows at or after it test (e.g. index dates as epoch ms),
 * so the test side lies wholly in the model's future. A missing time is refused.
 */
export function temporalSplit(times: ArrayLike<number>, cutoff: number): RowSplit {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (Number.isNaN(t)) throw new HealthmeshError('MODEL_MISSING_VALUE', `time of row ${i} is missing`, { line: i });
    (t < cutoff ? train : test).push(i);
  }
  return finish(train, test, `a temporal split at ${cutoff}`);
}

function finish(train: number[], test: number[], what: string): RowSplit {
  if (train.length === 0 || test.length === 0) {
    throw new HealthmeshError(
      'MODEL_INVALID_OPTION',
      `${what} leaves ${train.length} training and ${test.length} test rows; both sides need rows`,
    );
  }
  return { train: Uint32Array.from(train).sort(), test: Uint32Array.from(test).sort() };
}
