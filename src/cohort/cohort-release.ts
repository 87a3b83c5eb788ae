/**
 * The release step of a cohort run: exact statistics computed inside the hub in, a `Released` answer out, built by the
 * hub's release gate and admitted by its release log. Kept apart from the SQL that computes the statistics so the
 * attack suite's property test (test/privacy-attacks-property.test.ts) drives this very code with random
 * populations, not a copy of it.
 */
import type {
  ReleaseCell,
  Released,
  ReleasedCount,
  ReleasedHistogram,
  ReleasedSummary,
  ReleasedTable,
  ReleaseGate,
  ReleaseLog,
} from '../privacy/index.js';
import { releaseTerms, VALUE_GRID_RATIO } from '../privacy/index.js';
import type { MeasurementSummary } from './characterisation.js';
import type { CohortDefinition } from './cohort-definition.js';

export const AGE_BANDS = ['0-19', '20-39', '40-59', '60-79', '80+'] as const;
export const SEXES = ['female', 'male', 'other', 'unknown'] as const;

export interface ReleasedCohort {
  hub: string;
  name: string;
  persons: ReleasedCount;
  attrition: { step: string; persons: ReleasedCount }[];
  /** Withheld whole (every entry null, `refusedBy`) when a published cell would difference an earlier release. */
  ageSex: ReleasedTable & { refusedBy?: 'differencing' };
  /** Whether this hub holds a linkage key and can join a distinct count. */
  linkage: boolean;
  /**
   * The purpose the cohort ran for and how many people who met the definition were left out because their consent
   * refuses it, released like any count (a refusal is information about a person too).
   */
  consent: { purpose: string; leftOut: ReleasedCount };
  /**
   * Set when this is an earlier release answered again: the same definition was asked, and a fresh answer would
   * differ from the published one by fewer people than the threshold (differencing). ISO time of that release.
   */
  asOf?: string;
  /** Latest value in the year before index of the commonest measurements, with too-small statistics withheld. */
  measurements: {
    system: string;
    code: string;
    unit: string | null;
    summary: ReleasedSummary;
    /** Bins of at least the threshold of people on the privacy grid, so the coordinator can pool quantiles. */
    histogram: ReleasedHistogram | null;
    /**
     * Set when the release log withheld this measurement: its contributors differ from those of an earlier
     * related release by fewer people than the threshold, so its statistics would give theirs by subtraction.
     */
    refusedBy?: 'differencing';
  }[];
}

/** A measurement's exact statistics, its grid cells (for the histogram) and its contributors' keys. */
export interface MeasurementStatistics extends MeasurementSummary {
  gridCells: readonly { cell: number | null; count: number }[];
  contributors: readonly string[];
}

/** What a cohort run gives the release step: exact, computed inside the hub; none of it leaves as it is. */
export interface CohortStatistics {
  persons: number;
  attrition: readonly { step: string; persons: number }[];
  /** People left out because their consent refuses the purpose. */
  leftOut: number;
  /** Counts by `AGE_BANDS` × `SEXES`. */
  ageSex: readonly (readonly number[])[];
  /** The members' patient keys (the release log's population sketch). */
  members: readonly string[];
  measurements: readonly MeasurementStatistics[];
}

/** Who releases: the hub's gate and log, its name, whether it can join a linkage ring. */
export interface CohortReleaser {
  gate: ReleaseGate;
  releases: ReleaseLog;
  hub: string;
  linkage: boolean;
}

/** The parts of a definition that select people, and the purpose: what makes two releases comparable. */
export function cohortTerms(def: CohortDefinition, purpose: string): string[] {
  return releaseTerms([
    def.conceptSets,
    def.entry,
    def.priorObservationDays ?? null,
    ...(def.inclusion ?? []),
    def.exit ?? null,
    { purpose },
  ]);
}

interface MeasurementRelease {
  key: string;
  m: MeasurementStatistics;
  summary: Released<ReleasedSummary>;
  histogram: Released<ReleasedHistogram | null>;
  cells: Record<string, ReleaseCell>;
}

/**
 * A measurement through the gate (mean and SD with the dominance rule, quartiles, a grid histogram), with its
 * release-log cells: its published n and the true and published count of each histogram bin.
 */
function measurementRelease(gate: ReleaseGate, m: MeasurementStatistics): MeasurementRelease {
  const summary = gate.summary({
    n: m.n,
    mean: m.mean,
    sd: m.sd,
    quantiles: { 0.25: m.p25, 0.5: m.median, 0.75: m.p75 },
    dominance: m.dominance,
  });
  const histogram = gate.histogram(m.gridCells);
  const cells: Record<string, ReleaseCell> = { n: { count: m.n, released: summary.value.n } };
  const h = histogram.value;
  if (h !== null) {
    // A bin's true count: the grid cells up to its upper edge (computed as privacy's grid does) less those before.
    const upTo = (edge: number) =>
      m.gridCells
        .filter((c) => (c.cell === null ? 0 : VALUE_GRID_RATIO ** c.cell) <= edge)
        .reduce((s, c) => s + c.count, 0);
    let below = 0;
    h.counts.forEach((released, i) => {
      const edge = h.edges[i];
      const atOrBelow = edge === undefined ? m.n : upTo(edge);
      cells[`bin|${edge ?? 'inf'}`] = { count: atOrBelow - below, released };
      below = atOrBelow;
    });
  }
  return { key: `${m.system}|${m.code}`, m, summary, histogram, cells };
}

/**
 * Release a cohort's statistics: every figure through the gate; the cohort admitted by the release log with its
 * members, attrition and consent count, so a related definition that moves any of them by 1 … threshold − 1 people
 * is refused (or answered with the earlier release). The age band × sex table (each published cell and margin) and
 * each measurement that publishes anything (with its contributors) are parts: one that would move by 1 … threshold
 * − 1 people against an earlier related release is withheld (`refusedBy: 'differencing'`) while the rest of the
 * answer goes out.
 */
export async function releaseCohortStatistics(
  releaser: CohortReleaser,
  request: { requester: string; name: string; purpose: string; terms: readonly string[] },
  stats: CohortStatistics,
): Promise<Released<ReleasedCohort>> {
  const { gate } = releaser;
  const persons = gate.count(stats.persons);
  const attrition = stats.attrition.map((a) => ({ step: a.step, persons: gate.count(a.persons) }));
  const ageSex = gate.table({ rows: [...AGE_BANDS], columns: [...SEXES], cells: stats.ageSex });
  const leftOut = gate.count(stats.leftOut);
  const measurements = stats.measurements.map((m) => measurementRelease(gate, m));
  const cells: Record<string, ReleaseCell> = {};
  stats.attrition.forEach((a, i) => {
    cells[`attrition|${i}`] = { count: a.persons, released: attrition[i]?.persons.value ?? null };
  });
  cells['consent|leftOut'] = { count: stats.leftOut, released: leftOut.value };
  const tableCells: Record<string, ReleaseCell> = {};
  for (const [label, count, released] of tableEntries(stats.ageSex, ageSex.value)) {
    if (released !== null) tableCells[label] = { count, released };
  }
  const admitted = await releaser.releases.admitParts(
    {
      requester: request.requester,
      family: 'cohort.run/attrition',
      terms: request.terms,
      cells,
      population: stats.members,
    },
    // Only what publishes a number is compared and recorded: a measurement under the threshold publishes nothing.
    [
      ...(Object.keys(tableCells).length > 0
        ? [{ label: AGE_SEX, family: 'cohort.run/age_band×sex', cells: tableCells, population: stats.members }]
        : []),
      ...measurements
        .filter((r) => r.summary.value.n !== null)
        .map((r) => ({
          label: r.key,
          family: `cohort.measurement/${r.key}`,
          cells: r.cells,
          population: r.m.contributors,
        })),
    ].map((part) => ({ ...part, terms: request.terms })),
    (withheld) =>
      gate.bundle({
        hub: releaser.hub,
        name: request.name,
        persons,
        attrition,
        ageSex: withheld.has(AGE_SEX) ? withheldTable(gate) : ageSex,
        linkage: releaser.linkage,
        consent: { purpose: request.purpose, leftOut },
        measurements: measurements.map(({ key, m, summary, histogram }) =>
          withheld.has(key)
            ? {
                system: m.system,
                code: m.code,
                unit: m.unit,
                summary: gate.text({ n: null, withheld: ['n', 'mean', 'sd', 'quantiles'] }),
                histogram: null,
                refusedBy: 'differencing' as const,
              }
            : { system: m.system, code: m.code, unit: m.unit, summary, histogram },
        ),
      }),
  );
  if (admitted.reusedFrom === undefined) return admitted.result;
  // The same definition asked again a few people later: the earlier release, as it was published.
  return gate.reissue(
    { ...(admitted.reused as ReleasedCohort), asOf: admitted.reusedFrom.toISOString() },
    'release-log',
  );
}

/** The age band × sex table's part in the release log (a label no measurement key can take: it has no `|`). */
const AGE_SEX = 'age_band×sex';

/** The age band × sex table withheld whole: every cell and margin suppressed, with the rule that withheld it. */
function withheldTable(gate: ReleaseGate) {
  const nulls = (n: number) => Array.from({ length: n }, () => null);
  return gate.bundle({
    rows: [...AGE_BANDS],
    columns: [...SEXES],
    cells: AGE_BANDS.map(() => nulls(SEXES.length)),
    rowTotals: nulls(AGE_BANDS.length),
    columnTotals: nulls(SEXES.length),
    total: null,
    suppressed: {
      primary: gate.parameter(0, 'cells suppressed for being small'),
      secondary: gate.parameter((AGE_BANDS.length + 1) * (SEXES.length + 1), 'cells withheld'),
    },
    refusedBy: 'differencing',
  });
}

/** Each cell and margin of a two-way table: its label, true count and published value. */
function tableEntries(
  exact: readonly (readonly number[])[],
  released: ReleasedTable,
): [string, number, ReleasedCount][] {
  const out: [string, number, ReleasedCount][] = [];
  const columnTotals = released.columns.map(() => 0);
  let total = 0;
  exact.forEach((row, r) => {
    let rowTotal = 0;
    row.forEach((v, c) => {
      out.push([`${r}|${c}`, v, released.cells[r]?.[c] ?? null]);
      rowTotal += v;
      columnTotals[c] = (columnTotals[c] ?? 0) + v;
    });
    out.push([`${r}|total`, rowTotal, released.rowTotals[r] ?? null]);
    total += rowTotal;
  });
  columnTotals.forEach((v, c) => {
    out.push([`total|${c}`, v, released.columnTotals[c] ?? null]);
  });
  out.push(['total|total', total, released.total]);
  return out;
}
