import type { DisclosurePolicy } from '../core/index.js';
import { isReleasedCount } from '../privacy/index.js';
import type { FanOutResult } from './coordinator.js';

/** Thrown by a `PeerFigures` check; caught by `peerFigureProblem`, never seen outside a check. */
class UnusableFigure extends Error {}

type Json = Record<string, unknown>;

/**
 * The checks a coordinator applies to a peer's figures before using them. A verified signature says which hub
 * answered, not that its answer is sound: a peer with a fault, a laxer disclosure policy or a grudge could send a
 * shape the pooling turns into a wrong number, or counts this hub would never publish, which a sum would pass on.
 * Each method returns the value narrowed, or throws to `peerFigureProblem` with the path and why.
 */
export class PeerFigures {
  /**
   * @param policy this hub's disclosure policy: a peer's released counts must be counts it could have released.
   */
  constructor(readonly policy: DisclosurePolicy) {}

  /** The fewest people a statistic over a group may stand on (as the release gate's `minContributors`). */
  get minContributors(): number {
    return Math.max(this.policy.threshold, this.policy.minCellSize);
  }

  /** Refuse the answer: `path` names the figure (empty when `why` names it). */
  fail(path: string, why: string): never {
    throw new UnusableFigure(path === '' ? why : `${path} ${why}`);
  }

  object(v: unknown, path: string): Json {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'is not an object');
    return v as Json;
  }

  list(v: unknown, path: string, length?: number): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'is not a list');
    if (length !== undefined && v.length !== length) this.fail(path, `has ${v.length} items, not ${length}`);
    return v;
  }

  text(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'is not text');
    return v;
  }

  /** A finite number, optionally within [min, max]. */
  number(v: unknown, path: string, range: { min?: number; max?: number } = {}): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, `is ${JSON.stringify(v)}, not a finite number`);
    if ((range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max))
      this.fail(path, `is ${v}, outside [${range.min ?? '-∞'}, ${range.max ?? '∞'}]`);
    return v;
  }

  /** `number`, or null where the peer's gate withheld the figure. */
  numberOrNull(v: unknown, path: string, range: { min?: number; max?: number } = {}): number | null {
    return v === null ? null : this.number(v, path, range);
  }

  /** A list of `length` finite numbers (a vector of a model round). */
  vector(v: unknown, path: string, length: number): number[] {
    return this.list(v, path, length).map((x, i) => this.number(x, `${path}[${i}]`));
  }

  /** A row-major `size` × `size` matrix of finite numbers, symmetric to rounding when asked. */
  matrix(v: unknown, path: string, size: number, symmetric: boolean): number[] {
    const m = this.vector(v, path, size * size);
    if (symmetric) {
      for (let i = 0; i < size; i++) {
        for (let j = i + 1; j < size; j++) {
          const a = m[i * size + j]!;
          const b = m[j * size + i]!;
          // Sums of the same products in another order differ by rounding only.
          if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)))
            this.fail(path, `is not symmetric at (${i}, ${j}): ${a} against ${b}`);
        }
      }
    }
    return m;
  }

  /** A count this hub's policy releases: suppressed (null), or a multiple of its rounding at or above its floor. */
  count(v: unknown, path: string): number | null {
    if (!isReleasedCount(v, this.policy))
      this.fail(
        path,
        `is ${JSON.stringify(v)}, not a count this hub releases (threshold ${this.policy.threshold}, rounding ${this.policy.rounding})`,
      );
    return v;
  }

  /** A released count that is not suppressed. */
  shownCount(v: unknown, path: string): number {
    const n = this.count(v, path);
    if (n === null) this.fail(path, 'is suppressed where a count is needed');
    return n;
  }

  /** An exact whole number in [min, max] (a model round's rows, events or contributors). */
  integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      this.fail(path, `is ${JSON.stringify(v)}, not a whole number in [${min}, ${max}]`);
    return v as number;
  }
}

/** Why `check` refuses a peer's answer, or undefined when it passes. Faults other than a failed check propagate. */
export function peerFigureProblem(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    if (e instanceof UnusableFigure) return e.message;
    throw e;
  }
}

/**
 * A fan-out's answers with each one `check` refuses moved to `failed` as a `bad-response` naming the problem, for
 * coordinators whose analysis stands on a partial answer: a hub whose figures fail is treated as one that did not
 * answer, never mixed in.
 */
export function screenPeerAnswers(remote: FanOutResult, check: (value: unknown, hub: string) => unknown): FanOutResult {
  const failed = [...remote.failed];
  const results = remote.results.filter((r) => {
    const problem = peerFigureProblem(() => check(r.value, r.hub));
    if (problem !== undefined)
      failed.push({ hub: r.hub, kind: 'bad-response', message: `unusable answer: ${problem}` });
    return problem === undefined;
  });
  return { results, failed, complete: failed.length === 0 };
}
