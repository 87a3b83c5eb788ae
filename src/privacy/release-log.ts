import { createHash } from 'node:crypto';
import type { Clock, DisclosurePolicy } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';
import type { ReleasedCount } from './disclosure-control.js';
import { PopulationSketch } from './population-sketch.js';
import { refusal } from './release-gate.js';

export const releaseLogMigrations: readonly Migration[] = [
  {
    module: 'privacy',
    version: 1,
    name: 'release log for differencing protection',
    statements: [
      `CREATE TABLE disclosure_release (
        seq BIGINT NOT NULL PRIMARY KEY,
        released_at TIMESTAMPTZ NOT NULL,
        requester VARCHAR NOT NULL,
        family VARCHAR NOT NULL,
        terms VARCHAR NOT NULL,
        cells VARCHAR NOT NULL,
        population_size BIGINT,
        population_sketch VARCHAR
      )`,
      'CREATE INDEX disclosure_release_family ON disclosure_release (family, seq)',
    ],
  },
  {
    module: 'privacy',
    // 2 is person-linkage.ts's.
    version: 3,
    name: 'released results kept, to answer an unchanged query again',
    statements: ['ALTER TABLE disclosure_release ADD COLUMN result VARCHAR'],
  },
];

/** One count of a result about to be released: its true value and what disclosure control would publish. */
export interface ReleaseCell {
  count: number;
  released: ReleasedCount;
}

/**
 * What a hub is about to release, described so that later releases can be compared with it
 * (docs/disclosure-control.md, "Differencing").
 */
export interface ReleaseRequest {
  /** Who asked: a user or a peer hub, for the audit entry of a refusal. */
  requester: string;
  /**
   * What must match for two releases to be comparable cell by cell: the kind of result and its layout, e.g.
   * `cohort.characterisation/age_band×sex`. Not the population's definition, which goes in `terms`.
   */
  family: string;
  /** Canonical text of each part that defines the population (entry event, each inclusion rule, exit …). */
  terms: readonly string[];
  /** The released cells by a stable label (`total`, `F|65+` …). */
  cells: Readonly<Record<string, ReleaseCell>>;
  /** Keys of the people counted, when the caller has them: lets populations be compared however defined. */
  population?: Iterable<string>;
}

/**
 * One statistic of a result that describes a population of its own (a measurement's contributors: the people with
 * a value), released or withheld on its own (`admitParts`). Its `family` names the statistic (one per measurement
 * code), so it is compared with the same statistic of other results.
 */
export interface ReleasePart extends Omit<ReleaseRequest, 'requester'> {
  /** How the caller names the part in the result. */
  label: string;
}

/** The outcome of `admitParts`: the result as built and released, or an earlier release answered again. */
export type PartsOutcome<T> =
  | { seq: number; result: T; withheld: string[]; reusedFrom?: undefined }
  | { seq: number; result?: undefined; withheld?: undefined; reused: unknown; reusedFrom: Date };

/** Why a release was refused: the earlier release it could be subtracted from, and what would be revealed. */
export interface Refusal {
  relatedTo: number;
  reason: string;
  cell?: string;
}

/** The audit hook (the access module sits above privacy, so the hub passes its audit log in as a function). */
export type RefusalAudit = (entry: {
  actor: string;
  action: string;
  target: string;
  outcome: 'denied';
  detail: Record<string, string | number | boolean>;
}) => Promise<unknown>;

export interface ReleaseLogOptions {
  /** Two definitions whose terms differ in at most this many parts are related (one rule changed = 2). */
  maxTermDistance?: number;
  /** How many recent releases of a family are compared (bounds the work per release). */
  window?: number;
}

interface StoredRelease {
  seq: number;
  releasedAt: Date;
  /** The published result as JSON text, when the caller kept it (`admitResult`). */
  result: string | null;
  terms: string[];
  cells: Record<string, [number, ReleasedCount]>;
  sketch: PopulationSketch | undefined;
}

/** JSON with object keys sorted at every level: equal values give equal text however they were written. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The release terms of a definition's parts (its entry event, each inclusion rule, its exit …): SHA-256 of each
 * part's canonical JSON, so key order and formatting do not matter and the log stores no definition text. Two
 * definitions that share all parts but one differ in one term (one rule added or removed) or two (one changed).
 */
export function releaseTerms(parts: readonly unknown[]): string[] {
  return parts.map((p) => createHash('sha256').update(canonicalJson(p)).digest('base64url'));
}

function termDistance(a: readonly string[], b: readonly string[]): number {
  const A = new Set(a);
  const B = new Set(b);
  let d = 0;
  for (const x of A) if (!B.has(x)) d++;
  for (const x of B) if (!A.has(x)) d++;
  return d;
}

/**
 * Differencing protection: the hub remembers what it has released (true and published counts, the defining
 * terms, and a sketch of the population) and refuses a release that, subtracted from an earlier related one,
 * would reveal a count under the threshold. Two releases are related when they are of the same family and their
 * definitions differ in at most `maxTermDistance` terms, or their populations differ by fewer than the threshold
 * people. A related pair is refused when any cell published by both differs by 1 … threshold − 1.
 */
export class ReleaseLog {
  private readonly maxTermDistance: number;
  private readonly window: number;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly policy: DisclosurePolicy,
    private readonly audit: RefusalAudit,
    options: ReleaseLogOptions = {},
  ) {
    this.maxTermDistance = options.maxTermDistance ?? 2;
    this.window = options.window ?? 1000;
  }

  /**
   * Record the release, or refuse it: a refusal is audited (outcome `denied`, with the reason and the earlier
   * release) and thrown as `DISCLOSURE_DIFFERENCING`. Check and record are one transaction, so two related
   * releases cannot both pass by racing.
   */
  async admit(request: ReleaseRequest): Promise<number> {
    return (await this.record(request, undefined)).seq;
  }

  /**
   * Like `admit`, and keeps `result` with the release. When the same definition (identical terms) is asked again
   * and the new answer would be refused — a few people came or went since — the earlier published result is
   * answered again, with its date, instead of a refusal: it reveals nothing that was not published already, and
   * the answer moves on once the population has changed by at least the threshold.
   */
  async admitResult<T>(request: ReleaseRequest, result: T): Promise<{ seq: number; result: T; reusedFrom?: Date }> {
    const outcome = await this.record(request, JSON.stringify(result));
    if (outcome.reused === undefined) return { seq: outcome.seq, result };
    return { seq: outcome.reused.seq, result: JSON.parse(outcome.reused.result) as T, reusedFrom: outcome.reused.at };
  }

  /**
   * Like `admit`, for a result published in groups of cells (a week's ILI and confirmed counts). A group that would
   * be refused — one of its counts moved by 1 … threshold − 1 since a related release published it, as a late
   * record does — is published again as the most recent related release published it, so the rest of the result
   * can go out; it reveals nothing that was not published already, and the group moves on once its counts have
   * moved by at least the threshold. Returns the cells as recorded and released, and the groups held back.
   */
  async admitHolding(
    request: ReleaseRequest,
    groupOf: (label: string) => string,
  ): Promise<{ seq: number; cells: Record<string, ReleaseCell>; held: string[] }> {
    const outcome = await this.record(request, undefined, groupOf);
    return { seq: outcome.seq, cells: outcome.cells, held: outcome.held };
  }

  /**
   * Like `admitResult`, for a result with parts that describe populations of their own (each measurement's
   * contributors). Each part is compared with the earlier releases of its family: a part whose population or
   * cells differ from a related earlier one by 1 … threshold − 1 is withheld (audited, never said by how much), and
   * `build` makes the result knowing which parts were withheld, so the rest of it still goes out. The parts are
   * checked, the result built, the whole compared like `admitResult` and every part released recorded, in one
   * transaction. When the whole is answered with an earlier release, no part is recorded (that release's were).
   */
  async admitParts<T>(
    request: ReleaseRequest,
    parts: readonly ReleasePart[],
    build: (withheld: ReadonlySet<string>) => T,
  ): Promise<PartsOutcome<T>> {
    const cells = PopulationSketch.cellsFor(this.policy.threshold);
    const sketched = parts.map((p) => ({
      part: p,
      sketch: p.population === undefined ? undefined : PopulationSketch.of(p.population, cells),
    }));
    const refusedParts: { part: ReleasePart; refusal: Refusal }[] = [];
    let built: { result: T; withheld: string[] } | undefined;
    const outcome = await this.record(request, async (tx) => {
      refusedParts.length = 0;
      const released: { request: ReleaseRequest; sketch: PopulationSketch | undefined }[] = [];
      for (const { part, sketch } of sketched) {
        const partRequest = { ...part, requester: request.requester };
        const refused = this.compare(partRequest, sketch, await this.recent(tx, part.family));
        if (refused) refusedParts.push({ part, refusal: refused });
        else released.push({ request: partRequest, sketch });
      }
      const withheld = refusedParts.map((r) => r.part.label);
      const result = build(new Set(withheld));
      built = { result, withheld };
      return {
        result: JSON.stringify(result),
        afterInsert: async () => {
          for (const r of released) await this.insert(tx, r.request, r.sketch, undefined);
        },
      };
    });
    for (const { part, refusal: r } of outcome.reused ? [] : refusedParts) {
      await this.audit({
        actor: request.requester,
        action: 'release',
        target: part.family,
        outcome: 'denied',
        detail: {
          code: 'DISCLOSURE_DIFFERENCING',
          part: part.label,
          reason: r.reason,
          relatedTo: r.relatedTo,
          ...(r.cell !== undefined && { cell: r.cell }),
        },
      });
    }
    if (outcome.reused) {
      return { seq: outcome.reused.seq, reused: JSON.parse(outcome.reused.result), reusedFrom: outcome.reused.at };
    }
    if (built === undefined) throw new Error('admitParts: the result was not built');
    return { seq: outcome.seq, result: built.result, withheld: built.withheld };
  }

  /** Each group with a cell that a related earlier release would refuse, published as the latest of them did. */
  private hold(
    request: ReleaseRequest,
    earlier: readonly StoredRelease[],
    groupOf: (label: string) => string,
  ): { cells: Record<string, ReleaseCell>; held: string[] } {
    const t = this.policy.threshold;
    const related = earlier.filter((e) => termDistance(request.terms, e.terms) <= this.maxTermDistance);
    const cells: Record<string, ReleaseCell> = { ...request.cells };
    const groups = new Map<string, string[]>();
    for (const label of Object.keys(cells)) {
      const g = groupOf(label);
      groups.set(g, [...(groups.get(g) ?? []), label]);
    }
    const held: string[] = [];
    for (const [group, labels] of groups) {
      const refused = labels.some((label) => {
        const cell = cells[label]!;
        return related.some((e) => {
          const before = e.cells[label];
          if (!before || before[1] === null || cell.released === null) return false;
          const gap = Math.abs(cell.count - before[0]);
          return gap > 0 && gap < t;
        });
      });
      if (!refused) continue;
      const latest = related.find((e) => labels.every((l) => e.cells[l] !== undefined)); // newest first
      if (!latest) continue; // nothing to hold it at: compare refuses the release
      for (const l of labels) {
        const [count, released] = latest.cells[l]!;
        cells[l] = { count, released };
      }
      held.push(group);
    }
    return { cells, held };
  }

  private async record(
    original: ReleaseRequest,
    resultOf: string | undefined | ((tx: Database) => Promise<{ result: string; afterInsert: () => Promise<void> }>),
    groupOf?: (label: string) => string,
  ): Promise<{
    seq: number;
    reused?: { seq: number; result: string; at: Date };
    cells: Record<string, ReleaseCell>;
    held: string[];
  }> {
    let request = original;
    let held: string[] = [];
    const sketch =
      request.population === undefined
        ? undefined
        : PopulationSketch.of(request.population, PopulationSketch.cellsFor(this.policy.threshold));
    const terms = JSON.stringify([...request.terms].sort());
    type Outcome =
      | { refusal: Refusal; seq?: undefined; reused?: undefined }
      | { refusal?: undefined; seq: number; reused?: { seq: number; result: string; at: Date } };
    const outcome = await this.db.transaction(async (tx): Promise<Outcome> => {
      const made = typeof resultOf === 'function' ? await resultOf(tx) : undefined;
      const result = made ? made.result : (resultOf as string | undefined);
      const earlier = await this.recent(tx, request.family);
      if (groupOf) {
        const h = this.hold(original, earlier, groupOf);
        request = { ...original, cells: h.cells };
        held = h.held;
      }
      const refusal = this.compare(request, sketch, earlier);
      if (refusal && result !== undefined) {
        const same = earlier.find((e) => e.result !== null && JSON.stringify(e.terms) === terms);
        if (same?.result) {
          return { seq: same.seq, reused: { seq: same.seq, result: same.result, at: same.releasedAt } };
        }
      }
      if (refusal) return { refusal };
      const seq = await this.insert(tx, request, sketch, result);
      await made?.afterInsert();
      return { seq };
    });
    const r = outcome.refusal;
    if (r === undefined) {
      return { seq: outcome.seq, ...(outcome.reused && { reused: outcome.reused }), cells: { ...request.cells }, held };
    }
    await this.audit({
      actor: request.requester,
      action: 'release',
      target: request.family,
      outcome: 'denied',
      detail: {
        code: 'DISCLOSURE_DIFFERENCING',
        reason: r.reason,
        relatedTo: r.relatedTo,
        ...(r.cell !== undefined && { cell: r.cell }),
      },
    });
    // The caller learns which rule refused, never by how much or against which release: "differs from release 4 by
    // 6 people" let an empty cohort in the log reveal the exact size of every small one. The audit keeps the detail.
    throw refusal('differencing', 'this release');
  }

  /** Record one release; returns its sequence number. Runs inside the caller's transaction. */
  private async insert(
    tx: Database,
    request: ReleaseRequest,
    sketch: PopulationSketch | undefined,
    result: string | undefined,
  ): Promise<number> {
    const rows = await tx.all<{ seq: unknown }>('SELECT MAX(seq) AS seq FROM disclosure_release');
    const seq = Number(rows[0]?.seq ?? 0) + 1;
    const cells = Object.fromEntries(Object.entries(request.cells).map(([k, c]) => [k, [c.count, c.released]]));
    await tx.run(
      `INSERT INTO disclosure_release (seq, released_at, requester, family, terms, cells, population_size, population_sketch, result)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        seq,
        this.clock.now(),
        request.requester,
        request.family,
        JSON.stringify([...request.terms].sort()),
        JSON.stringify(cells),
        sketch?.size ?? null,
        sketch?.serialise() ?? null,
        result ?? null,
      ],
    );
    return seq;
  }

  private compare(
    request: ReleaseRequest,
    sketch: PopulationSketch | undefined,
    earlier: readonly StoredRelease[],
  ): Refusal | undefined {
    const t = this.policy.threshold;
    for (const e of earlier) {
      const populationGap = sketch && e.sketch ? sketch.differenceSize(e.sketch) : undefined;
      if (populationGap !== undefined && populationGap > 0 && populationGap < t) {
        return {
          relatedTo: e.seq,
          reason: `the population differs from release ${e.seq} by ${populationGap} people, fewer than the threshold ${t}`,
        };
      }
      const related =
        termDistance(request.terms, e.terms) <= this.maxTermDistance ||
        (populationGap !== undefined && populationGap < t);
      if (!related) continue;
      for (const [label, cell] of Object.entries(request.cells)) {
        const before = e.cells[label];
        if (!before || before[1] === null || cell.released === null) continue;
        const gap = Math.abs(cell.count - before[0]);
        if (gap > 0 && gap < t) {
          return {
            relatedTo: e.seq,
            cell: label,
            reason: `cell '${label}' differs from release ${e.seq} of a closely related query by ${gap}, fewer than the threshold ${t}: subtracting the two would reveal it`,
          };
        }
      }
    }
    return undefined;
  }

  private async recent(tx: Database, family: string): Promise<StoredRelease[]> {
    const rows = await tx.all<{
      seq: unknown;
      released_at: Date;
      terms: string;
      cells: string;
      population_sketch: string | null;
      result: string | null;
    }>(
      `SELECT seq, released_at, terms, cells, population_sketch, result FROM disclosure_release WHERE family = $1 ORDER BY seq DESC LIMIT $2`,
      [family, this.window],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      releasedAt: r.released_at,
      result: r.result,
      terms: JSON.parse(r.terms) as string[],
      cells: JSON.parse(r.cells) as Record<string, [number, ReleasedCount]>,
      sketch: r.population_sketch === null ? undefined : PopulationSketch.parse(r.population_sketch),
    }));
  }
}
