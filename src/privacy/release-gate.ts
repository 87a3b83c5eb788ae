/**
 * The release gate: the one way a number about people leaves the hub, to a peer or to a principal without
 * row-level rights (docs/disclosure-control.md). Every outbound statistic is built by a method of `ReleaseGate`
 * and comes back as a `Released` value; only this file can construct one, and the server and the federation
 * transport send nothing else to those principals. Composite answers are assembled with `bundle`, which takes
 * released parts and descriptive text but refuses a raw number, at compile time and at run time.
 */
import type { DisclosurePolicy } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { CountTable, ReleasedCount, ReleasedSummary, ReleasedTable } from './disclosure-control.js';
import { releaseCount, releaseCounts, releaseSummary, releaseTable } from './disclosure-control.js';
import type { ReleasedHistogram } from './quantile-histogram.js';
import { releaseHistogram } from './quantile-histogram.js';

/** Only this module holds it, so only this module can construct a `Released`. */
const MINT: unique symbol = Symbol('release-gate');

/**
 * A value that passed the release gate. It serialises as the value itself (`toJSON`), so routes return it as they
 * would the plain answer; the server refuses to send anything else to a principal without row-level rights.
 */
export class Released<T> {
  readonly #value: T;
  /** The rules that shaped it (for the audit entry and the documentation of an answer). */
  readonly rules: readonly DisclosureRule[];

  constructor(mint: typeof MINT, value: T, rules: readonly DisclosureRule[]) {
    if (mint !== MINT) throw new HealthmeshError('INTERNAL', 'a released value is made by the release gate only');
    this.#value = value;
    this.rules = rules;
  }

  /** The value as it may leave the hub. */
  get value(): T {
    return this.#value;
  }

  toJSON(): T {
    return this.#value;
  }
}

/** Whether `x` was built by the release gate. */
export function isReleased(x: unknown): x is Released<unknown> {
  return x instanceof Released;
}

/** The rules a released value can have passed, and that a refusal names (docs/disclosure-control.md). */
export type DisclosureRule =
  | 'threshold' // counts under the hub's threshold suppressed, others rounded
  | 'complementary' // cells that would let a suppressed one be recovered by subtraction suppressed too
  | 'min-contributors' // a statistic over a group needs at least the threshold (and minCellSize) contributors
  | 'dominance' // no statistic where the largest two contributors hold most of the total
  | 'precision' // statistics on a grid of significant digits, n rounded
  | 'derived-ratio' // a ratio computed from released numerator and denominator only
  | 'quantile-sides' // a quantile needs minCellSize people on each side
  | 'histogram-bins' // grid-aligned bins of at least the threshold, open at both ends
  | 'differencing' // refused: with an earlier release it would reveal a small group
  | 'released-series' // computed from a series as released, not from exact counts
  | 'parameter' // a number that describes no one (a threshold, a horizon, a year)
  | 'request-data' // computed only from data the caller sent in the request, nothing of the hub's
  | 'fit-support' // an exact model update or a model's output: enough rows, events, non-events and contributors
  | 'reissued' // released earlier (the release log, a peer) and answered again as it was
  | 'text' // labels, codes and dates: no number about people
  | 'output-review' // an output the rules do not cover (a figure), released by a steward's decision (outputs/)
  | 'own-record'; // a citizen's own records, sent for that citizen alone (mydata/)

/** The default significant digits of a released statistic, and the dominance share (the (2, 85%) rule). */
export const DEFAULT_PRECISION = 3;
export const DEFAULT_DOMINANCE = 0.85;

/** A statistic over a group of people, as the gate needs it to decide. */
export interface GroupStatistic {
  /** Contributors: people (or rows) with a value. */
  n: number;
  mean?: number;
  sd?: number;
  /** Quantiles keyed by probability. */
  quantiles?: Readonly<Record<string, number>>;
  /**
   * The two largest absolute contributions and the sum of absolute contributions, for the dominance rule. Omit
   * only for statistics whose contributions are bounded (0/1 indicators): then the rule cannot bite.
   */
  dominance?: { largestTwo: number; absoluteTotal: number };
}

/** A performance figure over a set of people with an outcome (AUROC, Brier, a calibration slope). */
export interface MetricSupport {
  n: number;
  /** People with the outcome; with `n` it gives the non-events too. */
  events?: number;
}

/**
 * What stands behind a fitted model or one of its exact updates (moments, a Newton term): the rows, the events,
 * and per feature the sizes of the groups its values split the rows into (recorded, missing, zero, non-zero).
 */
export interface FitSupport {
  rows: number;
  events: number;
  /** Per feature: contributors (people with a recorded value) and, where known, the other groups. */
  features: readonly { name: string; contributors: number; groups?: readonly number[] }[];
}

/** What `bundle` accepts: released parts, text, flags and nulls; never a raw number. */
export type Gated =
  | Released<unknown>
  | string
  | boolean
  | null
  | undefined
  | readonly Gated[]
  | { readonly [key: string]: Gated };

/** The plain shape a bundle serialises to. */
export type Unwrapped<S> =
  S extends Released<infer T>
    ? T
    : S extends readonly (infer E)[]
      ? Unwrapped<E>[]
      : S extends object
        ? { [K in keyof S]: Unwrapped<S[K]> }
        : S;

/** A refusal: names the rule, never a number (an earlier refusal message that said "by 6 people" was the leak). */
export function refusal(rule: DisclosureRule, what: string): HealthmeshError {
  return new HealthmeshError(
    rule === 'differencing' ? 'DISCLOSURE_DIFFERENCING' : 'DISCLOSURE_REFUSED',
    `${what} was refused by the disclosure rule '${rule}'`,
    { path: rule },
  );
}

/** Round to `digits` significant digits (0 stays 0). */
export function toPrecision(v: number, digits: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  return Number(v.toPrecision(digits));
}

/**
 * The gate of one hub: its policy, applied to every statistic kind. Stateless apart from the policy; differencing
 * across releases is the release log's (`ReleaseLog`), which callers run in front of the gate.
 */
export class ReleaseGate {
  readonly precision: number;
  readonly dominance: number;

  constructor(readonly policy: DisclosurePolicy) {
    this.precision = policy.precision ?? DEFAULT_PRECISION;
    this.dominance = policy.dominance ?? DEFAULT_DOMINANCE;
  }

  private mint<T>(value: T, rules: readonly DisclosureRule[]): Released<T> {
    return new Released(MINT, value, rules);
  }

  /** The fewest contributors a statistic over a group may have. */
  get minContributors(): number {
    return Math.max(this.policy.threshold, this.policy.minCellSize);
  }

  /** A count of people: null under the threshold, else rounded. */
  count(n: number): Released<ReleasedCount> {
    return this.mint(releaseCount(n, this.policy), ['threshold']);
  }

  /** Counts of one way with their total, complementary suppression across them. */
  counts(counts: Readonly<Record<string, number>>): Released<ReturnType<typeof releaseCounts>> {
    return this.mint(releaseCounts(counts, this.policy), ['threshold', 'complementary']);
  }

  /**
   * Counts of one way with their total, complementary suppression across them, each part released on its own
   * (to derive a ratio from, or to place in a composite answer): a small part hides its complement too.
   */
  countParts<K extends string>(
    counts: Readonly<Record<K, number>>,
  ): { total: Released<ReleasedCount>; parts: Record<K, Released<ReleasedCount>> } {
    const r = releaseCounts(counts, this.policy);
    const rules: DisclosureRule[] = ['threshold', 'complementary'];
    const parts = {} as Record<K, Released<ReleasedCount>>;
    for (const k of Object.keys(counts) as K[]) parts[k] = this.mint(r.counts[k] ?? null, rules);
    return { total: this.mint(r.total, rules), parts };
  }

  /**
   * An output the automatic rules do not cover (a figure's pixels), released because a steward of this hub looked
   * at it and decided so (the airlock of trusted research environments). Only the output airlock calls this, after
   * recording the steward's decision; any numbers behind the output passed the rules above first.
   */
  reviewed<T>(value: T): Released<T> {
    return this.mint(value, ['output-review']);
  }

  /** A two-way table with its margins, complementary suppression across them. */
  table(table: CountTable): Released<ReleasedTable> {
    return this.mint(releaseTable(table, this.policy), ['threshold', 'complementary']);
  }

  /**
   * Mean, SD and quantiles over a group: withheld under `minContributors` or when the two largest contributions
   * dominate the total; the rest on the precision grid, with n rounded like a count.
   */
  summary(s: GroupStatistic): Released<ReleasedSummary> {
    const base = releaseSummary({ n: s.n, mean: s.mean, sd: s.sd, quantiles: s.quantiles }, this.policy);
    const dominated = this.dominated(s.dominance);
    const out: ReleasedSummary = { n: base.n, withheld: [...base.withheld] };
    for (const key of ['mean', 'sd'] as const) {
      const v = base[key];
      if (v === undefined) continue;
      if (dominated || s.n < this.minContributors) out.withheld.push(key);
      else out[key] = toPrecision(v, this.precision);
    }
    if (base.quantiles) {
      out.quantiles = {};
      for (const [p, v] of Object.entries(base.quantiles)) out.quantiles[p] = toPrecision(v, this.precision);
    }
    return this.mint(out, ['min-contributors', 'dominance', 'precision', 'quantile-sides']);
  }

  /** Whether the two largest contributions hold more than the dominance share of the total. */
  dominated(d: GroupStatistic['dominance']): boolean {
    if (d === undefined || d.absoluteTotal <= 0) return false;
    return d.largestTwo / d.absoluteTotal > this.dominance;
  }

  /**
   * One statistic over a group (a feature's mean, a coefficient-free figure): null unless `n` reaches
   * `minContributors` and no two contributions dominate; on the precision grid.
   */
  statistic(
    value: number | null | undefined,
    n: number,
    dominance?: GroupStatistic['dominance'],
  ): Released<number | null> {
    const ok = value !== null && value !== undefined && Number.isFinite(value) && n >= this.minContributors;
    return this.mint(ok && !this.dominated(dominance) ? toPrecision(value, this.precision) : null, [
      'min-contributors',
      'dominance',
      'precision',
    ]);
  }

  /**
   * A performance figure over people with an outcome: released (on the precision grid) only when the people, the
   * events and the non-events each reach the threshold, since a figure over few events orders them one by one.
   */
  metric(value: number | null | undefined, support: MetricSupport): Released<number | null> {
    const t = this.policy.threshold;
    const enough =
      support.n >= this.minContributors &&
      (support.events === undefined || (support.events >= t && support.n - support.events >= t));
    const ok = enough && value !== null && value !== undefined && Number.isFinite(value);
    return this.mint(ok ? toPrecision(value, this.precision) : null, ['min-contributors', 'precision']);
  }

  /** A ratio from released parts only (never from exact counts): null when either part is withheld. */
  ratio(numerator: Released<ReleasedCount>, denominator: Released<ReleasedCount>): Released<number | null> {
    const a = numerator.value;
    const b = denominator.value;
    return this.mint(a === null || b === null || b === 0 ? null : toPrecision(a / b, this.precision), [
      'derived-ratio',
      'precision',
    ]);
  }

  /** Bins for pooled quantiles (privacy/quantile-histogram.ts). */
  histogram(cells: Parameters<typeof releaseHistogram>[0]): Released<ReleasedHistogram | null> {
    return this.mint(releaseHistogram(cells, this.policy), ['histogram-bins', 'threshold']);
  }

  /**
   * An exact model update (a federated GLM's moments or Newton terms): not rounded, since the pooled fit must
   * equal the centralised one, so released only when the rows, events and non-events each reach the threshold and
   * every feature has no contributor or at least `minContributors`, and splits the rows into no group of
   * 1 … threshold − 1 (missing or recorded, zero or not). Refused otherwise, naming the rule and no number. The
   * population behind it (the spec's rows, each feature's contributors) is the release log's to compare first.
   */
  modelUpdate<T>(value: T, support: FitSupport, what = 'this model update'): Released<T> {
    this.requireFitSupport(support, what);
    return this.mint(value, ['fit-support', 'min-contributors']);
  }

  /**
   * A model's output for inputs the caller chose (a probability for a feature vector): it describes no one, but
   * enough such outputs give the model's coefficients, so it is released only for a model whose training data
   * pass `modelUpdate`'s rule, and on the precision grid.
   */
  prediction(value: number, support: FitSupport, what = 'this prediction'): Released<number> {
    this.requireFitSupport(support, what);
    return this.mint(toPrecision(value, this.precision), ['fit-support', 'precision']);
  }

  /**
   * A fitted model's parameter or fit statistic (a coefficient, its SE, interval or p-value, a log-likelihood):
   * an aggregate of every training row, released like `prediction` (predictions give the coefficients anyway):
   * only for training data that pass `modelUpdate`'s rule, on the precision grid.
   */
  fitted(value: number, support: FitSupport, what = 'this fitted statistic'): Released<number> {
    this.requireFitSupport(support, what);
    return this.mint(toPrecision(value, this.precision), ['fit-support', 'precision']);
  }

  private requireFitSupport(support: FitSupport, what: string): void {
    const t = this.policy.threshold;
    if (support.rows < this.minContributors || support.events < t || support.rows - support.events < t) {
      throw refusal('min-contributors', what);
    }
    for (const f of support.features) {
      const small = (n: number) => n > 0 && n < t;
      if ((f.contributors > 0 && f.contributors < this.minContributors) || (f.groups ?? []).some(small)) {
        throw refusal('min-contributors', `${what} (feature ${f.name})`);
      }
    }
  }

  /**
   * A value computed from released values only (a forecast from released weekly series, an interval from released
   * counts): \`compute\` sees the released values, never the exact ones.
   */
  fromReleased<const I extends readonly Released<unknown>[], T>(
    inputs: I,
    compute: (values: { [K in keyof I]: I[K] extends Released<infer V> ? V : never }) => T,
    rule: 'released-series' | 'derived-ratio',
  ): Released<T> {
    const values = inputs.map((r) => r.value) as { [K in keyof I]: I[K] extends Released<infer V> ? V : never };
    return this.mint(compute(values), [rule]);
  }

  /** A number that describes no one: a policy value, a horizon, a year, a version. Say what it is. */
  parameter<N extends number | null>(value: N, _what: string): Released<N> {
    return this.mint(value, ['parameter']);
  }

  /**
   * An answer computed only from data the caller sent in the same request (a season forecast of a target-data file
   * posted to the route): it reads nothing of the hub's, so it holds nothing the caller did not already have.
   * Say what was sent.
   */
  fromRequest<T>(value: T, _what: string): Released<T> {
    return this.mint(value, ['request-data']);
  }

  /**
   * Numbers already released by this gate and kept (a stored released result answered again, a peer's released
   * answer pooled by the coordinator): `origin` says where they were released.
   */
  reissue<T>(value: T, _origin: 'release-log' | 'peer'): Released<T> {
    return this.mint(value, ['reissued']);
  }

  /**
   * A person's own records, sent only to be shown to that person (a peer answering for a citizen enrolled at
   * another hub, `mydata.records`): the rules protect people from others learning about them, and the one reader
   * here is the person they describe. Say whose (the citizen's keyed reference, never an id).
   */
  ownRecord<T>(value: T, _whose: string): Released<T> {
    return this.mint(value, ['own-record']);
  }

  /** Text, codes, dates and flags: refused when it holds any number. */
  text<T extends Gated>(value: T): Released<Unwrapped<T>> {
    return this.bundle(value);
  }

  /**
   * A composite answer from released parts and descriptive text. A raw number anywhere in it is a programming
   * error (`DISCLOSURE_UNGATED`): it would be a figure that passed no rule.
   */
  bundle<T extends Gated>(shape: T): Released<Unwrapped<T>> {
    const rules = new Set<DisclosureRule>();
    return this.mint(unwrap(shape, '$', rules) as Unwrapped<T>, [...rules]);
  }
}

function unwrap(v: unknown, path: string, rules: Set<DisclosureRule>): unknown {
  if (v instanceof Released) {
    for (const r of v.rules) rules.add(r);
    return v.value;
  }
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((e, i) => unwrap(e, `${path}[${i}]`, rules));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) if (e !== undefined) out[k] = unwrap(e, `${path}.${k}`, rules);
    return out;
  }
  throw new HealthmeshError(
    'DISCLOSURE_UNGATED',
    `${path} is a ${typeof v === 'object' ? (v?.constructor?.name ?? 'object') : typeof v} that did not pass the release gate`,
    { path },
  );
}
