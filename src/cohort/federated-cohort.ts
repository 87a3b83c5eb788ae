/**
 * Cohorts across hubs. Each hub runs the definition on its own data and releases only what disclosure control
 * lets out (`releaseCohort`): the person count, the attrition, an age band × sex table with complementary
 * suppression, each admitted by the hub's release log (differencing protection). The coordinator merges the
 * released numbers and counts distinct people across hubs with the linkage ring (docs/linkage.md), so a person
 * treated in two regions is counted once; that total is itself disclosure-controlled before it is shown.
 */
import type { Federation, PeerFailure } from '../federation/index.js';
import { fanOut, OperationRegistry, PeerCallError } from '../federation/index.js';
import type { Hub } from '../hub/index.js';
import type {
  ConsentFilter,
  PooledQuantile,
  ReleasedCount,
  ReleasedHistogram,
  ReleasedSummary,
  ReleasedTable,
  RingCall,
  RingResponse,
} from '../privacy/index.js';
import {
  federatedDistinctCount,
  LinkageParty,
  poolQuantiles,
  releaseCount,
  releaseHistogram,
  releaseSummary,
  releaseTable,
  releaseTerms,
} from '../privacy/index.js';
import { characterise, measurementGridCells } from './characterisation.js';
import type { CohortDefinition } from './cohort-definition.js';
import { cohortIdOf, runCohort } from './cohort-runner.js';
import { validateCohortDefinition } from './cohort-validation.js';
import { refreshCohortIndex } from './index-refresh.js';

export interface ReleasedCohort {
  hub: string;
  name: string;
  persons: ReleasedCount;
  attrition: { step: string; persons: ReleasedCount }[];
  ageSex: ReleasedTable;
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
  }[];
}

/** A measurement pooled across hubs from their released summaries. */
export interface PooledMeasurement {
  system: string;
  code: string;
  unit: string | null;
  /** Sum of the released (rounded) person counts of the hubs whose mean was released. */
  n: number;
  hubs: number;
  mean: number;
  /** Pooled standard deviation (within- and between-hub), when every pooled hub released its SD. */
  sd?: number;
  /**
   * Quartiles of the union from the hubs' released histograms, with bounds; null for a quartile that falls in
   * an open outer bin. Absent when no hub released a histogram.
   */
  quantiles?: Record<string, PooledQuantile | null>;
  /** Hubs whose histogram went into `quantiles`. */
  quantileHubs?: number;
}

export interface FederatedCohort {
  name: string;
  /** The purpose every hub ran the cohort for (docs/consent.md). */
  purpose: string;
  hubs: ReleasedCohort[];
  /** Hubs that did not answer in time, refused, or are unknown: the result is partial when any are named. */
  failed: PeerFailure[];
  complete: boolean;
  /** Sum of the hubs' released counts (suppressed hubs add nothing; `suppressedHubs` says how many). */
  summedPersons: number;
  suppressedHubs: number;
  /** Distinct people across the answering hubs by linkage token, disclosure-controlled; absent without linkage. */
  distinctPersons?: ReleasedCount;
  /** Why there is no distinct count (a hub without a linkage key, or the ring failed). */
  distinctUnavailable?: string;
  /** Means and SDs pooled over hubs (weights are the released, rounded counts: documented approximation). */
  measurements: PooledMeasurement[];
}

/**
 * Pooled mean and variance from per-hub (n, mean, SD): total sum of squares = within-hub + between-hub parts.
 * Quartiles are pooled from the hubs' histograms (privacy/quantile-histogram.ts), not from their released
 * quartiles, which do not combine into the quartiles of the union.
 */
export function poolMeasurements(hubs: readonly ReleasedCohort[]): PooledMeasurement[] {
  const groups = new Map<
    string,
    {
      system: string;
      code: string;
      unit: string | null;
      parts: { n: number; mean: number; sd?: number }[];
      histograms: ReleasedHistogram[];
    }
  >();
  for (const h of hubs) {
    for (const m of h.measurements) {
      const { n, mean, sd } = m.summary;
      if (n === null || mean === undefined) continue;
      const key = `${m.system}|${m.code}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { system: m.system, code: m.code, unit: m.unit, parts: [], histograms: [] };
        groups.set(key, g);
      }
      g.parts.push({ n, mean, ...(sd !== undefined && { sd }) });
      if (m.histogram) g.histograms.push(m.histogram);
    }
  }
  return [...groups.values()].map((g) => {
    const n = g.parts.reduce((s, p) => s + p.n, 0);
    const mean = g.parts.reduce((s, p) => s + p.n * p.mean, 0) / n;
    const pooled: PooledMeasurement = { system: g.system, code: g.code, unit: g.unit, n, hubs: g.parts.length, mean };
    if (g.parts.every((p) => p.sd !== undefined) && n > 1) {
      const ss = g.parts.reduce((s, p) => s + (p.n - 1) * (p.sd ?? 0) ** 2 + p.n * (p.mean - mean) ** 2, 0);
      pooled.sd = Math.sqrt(ss / (n - 1));
    }
    if (g.histograms.length > 0) {
      pooled.quantiles = poolQuantiles(g.histograms, QUARTILES);
      pooled.quantileHubs = g.histograms.length;
    }
    return pooled;
  });
}

const QUARTILES = [0.25, 0.5, 0.75];
const AGE_BANDS = ['0-19', '20-39', '40-59', '60-79', '80+'] as const;
const SEXES = ['female', 'male', 'other', 'unknown'] as const;
const LINKAGE_BLOCK = 10;

async function ageSexCounts(hub: Hub, cohortId: string): Promise<number[][]> {
  const age = `(EXTRACT(YEAR FROM r.start_date) - p.birth_year - CASE WHEN EXTRACT(MONTH FROM r.start_date) < p.birth_month THEN 1 ELSE 0 END)`;
  const rows = await hub.db.all<{ band: number; gender: string | null; n: unknown }>(
    `SELECT CASE WHEN ${age} < 20 THEN 0 WHEN ${age} < 40 THEN 1 WHEN ${age} < 60 THEN 2 WHEN ${age} < 80 THEN 3 ELSE 4 END AS band,
       p.gender, COUNT(*) AS n
     FROM (SELECT patient_key, MIN(start_date) AS start_date FROM cohort_result WHERE cohort_id = $1 GROUP BY patient_key) r
     JOIN cohort_person p ON p.patient_key = r.patient_key GROUP BY 1, 2`,
    [cohortId],
  );
  const cells = AGE_BANDS.map(() => SEXES.map(() => 0));
  for (const r of rows) {
    const s = SEXES.indexOf((r.gender ?? 'unknown') as (typeof SEXES)[number]);
    const row = cells[Number(r.band)];
    if (row !== undefined) row[s < 0 ? 3 : s] = (row[s < 0 ? 3 : s] ?? 0) + Number(r.n);
  }
  return cells;
}

async function releasedMeasurements(
  hub: Hub,
  cohortId: string,
  consent: ConsentFilter,
): Promise<ReleasedCohort['measurements']> {
  const policy = hub.config.privacy.disclosure;
  const cells = await measurementGridCells(hub.db, cohortId);
  return (await characterise(hub.db, cohortId, { top: 10, consent })).measurements.map((m) => ({
    system: m.system,
    code: m.code,
    unit: m.unit,
    summary: releaseSummary(
      { n: m.n, mean: m.mean, sd: m.sd, quantiles: { 0.25: m.p25, 0.5: m.median, 0.75: m.p75 } },
      policy,
    ),
    histogram: releaseHistogram(
      cells.filter((c) => c.system === m.system && c.code === m.code),
      policy,
    ),
  }));
}

/** The purpose a cohort request runs for when it names none: research (docs/consent.md). */
export const DEFAULT_COHORT_PURPOSE = 'research';

/**
 * Run a definition on this hub for a purpose (default research; people whose consent refuses it are left out) and
 * return only what may leave it; the release is logged and audited.
 */
export async function releaseCohort(
  hub: Hub,
  input: unknown,
  requester: string,
  purpose: unknown = DEFAULT_COHORT_PURPOSE,
): Promise<ReleasedCohort> {
  const def = validateCohortDefinition(input);
  const consent = await hub.consent.filter(purpose);
  await refreshCohortIndex(hub);
  const run = await runCohort(hub.db, def, hub.clock, consent);
  const leftOut = run.consent?.leftOut ?? 0;
  const policy = hub.config.privacy.disclosure;
  const ageSex = releaseTable(
    { rows: [...AGE_BANDS], columns: [...SEXES], cells: await ageSexCounts(hub, run.cohortId) },
    policy,
  );
  const released: ReleasedCohort = {
    hub: hub.config.name,
    name: def.name,
    persons: releaseCount(run.persons, policy),
    attrition: run.attrition.map((a) => ({ step: a.step, persons: releaseCount(a.persons, policy) })),
    ageSex,
    linkage: hub.linkageKey !== undefined,
    // The count of people left out by consent goes through the same release as every other count.
    consent: { purpose: consent.purpose, leftOut: releaseCount(leftOut, policy) },
    measurements: await releasedMeasurements(hub, run.cohortId, consent),
  };
  const cells: Record<string, { count: number; released: ReleasedCount }> = {};
  run.attrition.forEach((a, i) => {
    cells[`attrition|${i}`] = { count: a.persons, released: released.attrition[i]?.persons ?? null };
  });
  cells['consent|leftOut'] = { count: leftOut, released: released.consent.leftOut };
  const members = await hub.db.all<{ patient_key: string }>(
    'SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1',
    [run.cohortId],
  );
  const admitted = await hub.releases.admitResult(
    {
      requester,
      family: 'cohort.run/attrition',
      terms: releaseTerms([
        def.conceptSets,
        def.entry,
        def.priorObservationDays ?? null,
        ...(def.inclusion ?? []),
        def.exit ?? null,
        { purpose: consent.purpose },
      ]),
      cells,
      population: members.map((m) => m.patient_key),
    },
    released,
  );
  return admitted.reusedFrom ? { ...admitted.result, asOf: admitted.reusedFrom.toISOString() } : released;
}

/**
 * The linkage tokens of a cohort's members on this hub whose consent allows the purpose now (running the cohort
 * first if this hub has not run it for that purpose).
 */
async function memberTokens(hub: Hub, def: CohortDefinition, purpose: unknown): Promise<string[]> {
  const consent = await hub.consent.filter(purpose);
  const id = cohortIdOf(def, consent.purpose);
  const [known] = await hub.db.all('SELECT 1 AS x FROM cohort_run WHERE cohort_id = $1', [id]);
  if (known === undefined) {
    await refreshCohortIndex(hub);
    await runCohort(hub.db, def, hub.clock, consent);
  }
  const rows = await hub.db.all<{ token: string }>(
    `SELECT DISTINCT l.token FROM person_linkage l
     JOIN (SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1) r ON r.patient_key = l.patient_key
     WHERE ${consent.allows('l.patient_key')}`,
    [id],
  );
  return rows.map((r) => r.token);
}

/** The cohort side of a hub's federation: `cohort.run` and, when the hub holds a linkage key, `cohort.linkage`. */
export class CohortFederation {
  readonly party: LinkageParty | undefined;

  constructor(private readonly hub: Hub) {
    this.party = hub.linkageKey !== undefined ? new LinkageParty(hub.linkageKey, hub.clock) : undefined;
  }

  register(operations = new OperationRegistry()): OperationRegistry {
    // A peer's request runs for the purpose it names, research when it names none.
    operations.register('cohort.run', ({ body, peer }) => {
      const b = body as { definition: unknown; purpose?: unknown };
      return releaseCohort(this.hub, b.definition, `peer:${peer}`, b.purpose ?? DEFAULT_COHORT_PURPOSE);
    });
    if (this.party !== undefined) {
      operations.register('cohort.linkage', ({ body }) => this.linkage(body));
    }
    return operations;
  }

  /** One ring step for the population a definition selects here. */
  linkage(body: unknown): Promise<RingResponse> {
    const { definition, ring, purpose } = body as { definition: unknown; ring: unknown; purpose?: unknown };
    const def = validateCohortDefinition(definition);
    if (this.party === undefined) throw new Error('this hub holds no linkage key');
    return this.party.handle(ring, () => memberTokens(this.hub, def, purpose ?? DEFAULT_COHORT_PURPOSE), LINKAGE_BLOCK);
  }

  /**
   * Coordinate a run over `hubs` (this hub answers locally when named). Partial when a hub fails: the failures
   * are named. Distinct people are counted when every answering hub holds a linkage key.
   */
  async run(
    federation: Federation,
    hubs: readonly string[],
    input: unknown,
    purposeName: unknown = DEFAULT_COHORT_PURPOSE,
  ): Promise<FederatedCohort> {
    const def = validateCohortDefinition(input);
    // Checked here before any hub is asked: each peer checks it again against its own policy.
    const purpose = this.hub.consent.policy.purpose(purposeName).name;
    const self = this.hub.config.name;
    const others = hubs.filter((h) => h !== self);
    const [local, remote] = await Promise.all([
      hubs.includes(self) ? releaseCohort(this.hub, def, 'coordinator', purpose) : Promise.resolve(undefined),
      fanOut(
        federation.client,
        others,
        'cohort.run',
        { definition: def, purpose },
        { timeoutMs: federation.timeoutMs },
      ),
    ]);
    const answered: ReleasedCohort[] = [
      ...(local ? [local] : []),
      ...remote.results.map((r) => r.value as ReleasedCohort),
    ];
    const result: FederatedCohort = {
      name: def.name,
      purpose,
      hubs: answered,
      failed: remote.failed,
      complete: remote.complete,
      summedPersons: answered.reduce((s, h) => s + (h.persons ?? 0), 0),
      suppressedHubs: answered.filter((h) => h.persons === null).length,
      measurements: poolMeasurements(answered),
    };
    const withoutKey = answered.filter((h) => !h.linkage).map((h) => h.hub);
    if (this.party === undefined || withoutKey.length > 0) {
      result.distinctUnavailable = `no linkage key on ${this.party === undefined ? self : withoutKey.join(', ')}`;
    } else if (answered.length > 0) {
      const ring = answered.map((h) => h.hub);
      const call: RingCall = async (hub, request) =>
        hub === self
          ? this.linkage({ definition: def, ring: request, purpose })
          : ((await federation.client.call(
              hub,
              'cohort.linkage',
              { definition: def, ring: request, purpose },
              { timeoutMs: federation.timeoutMs },
            )) as RingResponse);
      try {
        result.distinctPersons = releaseCount(
          await federatedDistinctCount(ring, call),
          this.hub.config.privacy.disclosure,
        );
      } catch (e) {
        // Reported, not hidden: the per-hub counts stand; the distinct count is missing and says why.
        if (!(e instanceof PeerCallError)) throw e;
        result.distinctUnavailable = `the linkage ring failed at ${e.failure.hub}: ${e.failure.kind}`;
      }
    }
    return result;
  }
}
