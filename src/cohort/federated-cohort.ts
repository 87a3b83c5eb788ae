/**
 * Cohorts across hubs. Each hub runs the definition on its own data and releases only what passes its release
 * gate (`releaseCohort`, docs/disclosure-control.md): the person count, the attrition, an age band × sex table with
 * complementary suppression, and its commonest measurements, each admitted by the hub's release log (differencing
 * protection: the cohort by its members, each measurement by its contributors). The coordinator merges the
 * released numbers and counts distinct people across hubs with the linkage ring (docs/linkage.md), so a person
 * treated in two regions is counted once; that total goes through the coordinator's gate before it is shown.
 */

import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { describeFailures, fanOut, OperationRegistry, PeerCallError } from '../federation/index.js';
import type { Released, ReleasedCount, RingCall, RingResponse } from '../privacy/index.js';
import { federatedDistinctCount, LinkageParty, personLinkage } from '../privacy/index.js';
import { characterise, measurementContributors, measurementGridCells } from './characterisation.js';
import type { CohortDefinition } from './cohort-definition.js';
import type { ReleasedCohort } from './cohort-release.js';
import { AGE_BANDS, cohortTerms, releaseCohortStatistics, SEXES } from './cohort-release.js';
import { cohortIdOf, runCohort } from './cohort-runner.js';
import { cohortTables } from './cohort-tables.js';
import { validateCohortDefinition } from './cohort-validation.js';
import type { PooledMeasurement } from './measurement-pooling.js';
import { poolMeasurements } from './measurement-pooling.js';
import { peerCohortProblem } from './peer-cohort-check.js';
import { wholeAgeSql } from './person-age.js';

export type { ReleasedCohort } from './cohort-release.js';

export interface FederatedCohort {
  name: string;
  /** The purpose every hub ran the cohort for (docs/consent.md). */
  purpose: string;
  hubs: ReleasedCohort[];
  /** Hubs that did not answer in time, refused, or are unknown: the result is partial when any are named. */
  failed: { hub: string; kind: string; remoteCode?: string; message: string }[];
  complete: boolean;
  /**
   * Sum of the hubs' released counts (suppressed hubs add nothing; `suppressedHubs` says how many); null when no
   * hub answered, so a run where every hub failed never reads as a count of 0.
   */
  summedPersons: number | null;
  suppressedHubs: number;
  /** Distinct people across the answering hubs by linkage token, disclosure-controlled; absent without linkage. */
  distinctPersons?: ReleasedCount;
  /** Why there is no distinct count (a hub without a linkage key, or the ring failed). */
  distinctUnavailable?: string;
  /** Means and SDs pooled over hubs (weights are the released, rounded counts: documented approximation). */
  measurements: PooledMeasurement[];
}

const LINKAGE_BLOCK = 10;

async function ageSexCounts(hub: Hub, cohortId: string): Promise<number[][]> {
  const age = wholeAgeSql('r.start_date', 'p');
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

/**
 * What a hub's projects lend the cohort federation (server/ wires `hub.projects` in; the cohort module sits below
 * projects): a peer's cohort for a project runs only if this hub approved that project for that peer, for the
 * project's own purpose, and each run is recorded as the project's use of the people it included.
 */
export interface ProjectWork {
  /**
   * The project's purpose here, or a refusal (403) if `peer` may not run work in it at this hub or the tables the
   * definition reads (`cohortTables`) are outside the scope approved here.
   */
  authorizePeer(peer: string, project: string, scope: { tables: readonly string[] }): Promise<{ purpose: string }>;
  /** Record that `project` ran the cohort `cohortId` here for `requester`. */
  recordUse(project: string, cohortId: string, requester: string): Promise<void>;
}

/** The purpose a cohort request runs for when it names none: research (docs/consent.md). */
export const DEFAULT_COHORT_PURPOSE = 'research';

/**
 * Run a definition on this hub for a purpose (default research; people whose consent refuses it are left out) and
 * return only what may leave it, as built by the hub's release gate. The cohort
 * is admitted by the release log with its members; each measurement that publishes anything, with its
 * contributors, so one whose contributors differ from an earlier related release's by 1 … threshold − 1 people
 * is withheld (`refusedBy: 'differencing'`) while the rest of the answer goes out. Logged and audited.
 */
export async function releaseCohort(
  hub: Hub,
  input: unknown,
  requester: string,
  purpose: unknown = DEFAULT_COHORT_PURPOSE,
): Promise<Released<ReleasedCohort>> {
  const def = validateCohortDefinition(input);
  const consent = await hub.consent.filter(purpose);
  // Checked, never rebuilt: the after-commit pipeline keeps the index current; a peer's request writes nothing.
  await hub.derived.assertCurrent();
  const run = await runCohort(hub.db, def, hub.clock, consent);
  // Characterised first: with the consent filter it leaves out of the stored result anyone who refused since.
  const { measurements } = await characterise(hub.db, run.cohortId, { top: 10, consent });
  const cells = await measurementGridCells(hub.db, run.cohortId);
  const contributors = await measurementContributors(hub.db, run.cohortId);
  const members = await hub.db.all<{ patient_key: string }>(
    'SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1',
    [run.cohortId],
  );
  return releaseCohortStatistics(
    { gate: hub.gate, releases: hub.releases, hub: hub.config.name, linkage: hub.linkageKey !== undefined },
    { requester, name: def.name, purpose: consent.purpose, terms: cohortTerms(def, consent.purpose) },
    {
      attrition: run.attrition,
      persons: run.persons,
      leftOut: run.consent?.leftOut ?? 0,
      ageSex: await ageSexCounts(hub, run.cohortId),
      members: members.map((m) => m.patient_key),
      measurements: measurements.map((m) => ({
        ...m,
        gridCells: cells.filter((c) => c.system === m.system && c.code === m.code),
        contributors: contributors.get(`${m.system}|${m.code}`) ?? [],
      })),
    },
  );
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
    await hub.derived.assertCurrent();
    await runCohort(hub.db, def, hub.clock, consent);
  }
  return personLinkage.tokensOf(
    hub.db,
    `(SELECT DISTINCT patient_key FROM cohort_result WHERE cohort_id = $1 AND ${consent.allows('patient_key')})`,
    [id],
  );
}

/** The cohort side of a hub's federation: `cohort.run` and, when the hub holds a linkage key, `cohort.linkage`. */
export class CohortFederation {
  readonly party: LinkageParty | undefined;
  private projects: ProjectWork | undefined;

  constructor(private readonly hub: Hub) {
    this.party = hub.linkageKey !== undefined ? new LinkageParty(hub.linkageKey, hub.clock) : undefined;
  }

  register(operations = new OperationRegistry()): OperationRegistry {
    // A peer's request runs for the purpose it names, research when it names none.
    operations.register('cohort.run', 'peer', async ({ body, peer }) => {
      const b = body as { definition: unknown; purpose?: unknown; project?: unknown };
      if (b.project === undefined) {
        return releaseCohort(this.hub, b.definition, `peer:${peer}`, b.purpose ?? DEFAULT_COHORT_PURPOSE);
      }
      // Work in a project: this hub's own record of the project decides, and its purpose, not the request's.
      const { project, purpose } = await this.projectOf(peer, b.project, b.definition);
      const def = validateCohortDefinition(b.definition);
      const released = await releaseCohort(this.hub, def, `peer:${peer}/project:${project}`, purpose);
      await this.projects!.recordUse(project, cohortIdOf(def, purpose), `peer:${peer}`);
      return released;
    });
    if (this.party !== undefined) {
      operations.register('cohort.linkage', 'peer', async ({ body, peer }) => {
        const b = body as { project?: unknown; definition?: unknown };
        const scoped =
          b.project === undefined
            ? body
            : { ...b, purpose: (await this.projectOf(peer, b.project, b.definition)).purpose };
        return this.releasedRing(await this.linkage(scoped));
      });
    }
    return operations;
  }

  /** Let peers run cohorts in projects this hub approved (without it, a request naming a project is refused). */
  withProjects(work: ProjectWork): this {
    this.projects = work;
    return this;
  }

  private async projectOf(
    peer: string,
    project: unknown,
    definition: unknown,
  ): Promise<{ project: string; purpose: string }> {
    if (typeof project !== 'string' || this.projects === undefined) {
      throw new HealthmeshError('PROJECT_NOT_FOUND', 'this hub runs no project work for peers');
    }
    // The tables come from the definition as received: the origin's check was against its own record of the scope.
    const tables = cohortTables(definition);
    return { project, purpose: (await this.projects.authorizePeer(peer, project, { tables })).purpose };
  }

  /** One ring step for the population a definition selects here. */
  linkage(body: unknown): Promise<RingResponse> {
    const { definition, ring, purpose } = body as { definition: unknown; ring: unknown; purpose?: unknown };
    const def = validateCohortDefinition(definition);
    if (this.party === undefined) throw new Error('this hub holds no linkage key');
    return this.party.handle(ring, () => memberTokens(this.hub, def, purpose ?? DEFAULT_COHORT_PURPOSE), LINKAGE_BLOCK);
  }

  /**
   * A ring step as it leaves the hub. The points are blinded (docs/linkage.md): text that no one can compare with
   * anything. The number of dummies is not a statistic and cannot pass one: the coordinator must subtract it to
   * count, and with the padded size it gives the coordinator this hub's exact set size for the query — the limit
   * docs/linkage.md states ("What each party learns"); hiding it needs secure aggregation of the dummy counts. It
   * is released as the protocol parameter it is, named as such, not as a checked count.
   */
  private releasedRing(r: RingResponse): Released<RingResponse> {
    const { gate } = this.hub;
    return gate.bundle({
      points: gate.text(r.points),
      ...(r.dummies !== undefined && {
        dummies: gate.parameter(r.dummies, 'linkage ring: dummy points this hub padded its set with'),
      }),
    });
  }

  /**
   * Coordinate a run over `hubs` (this hub answers locally when named). Partial when a hub fails: the failures
   * are named. Distinct people are counted when every answering hub holds a linkage key. Everything in the answer
   * is either a peer's released value (reissued as such), derived from released values only (sums, pooled means),
   * or through this hub's gate (the distinct count).
   */
  async run(
    federation: Federation,
    hubs: readonly string[],
    input: unknown,
    purposeName: unknown = DEFAULT_COHORT_PURPOSE,
    options: { project?: { id: string; requester: string } } = {},
  ): Promise<Released<FederatedCohort>> {
    const def = validateCohortDefinition(input);
    const project = options.project;
    // Each peer checks the project against its own approval; the body names it so that they can.
    const scope = project === undefined ? {} : { project: project.id };
    // Checked here before any hub is asked: each peer checks it again against its own policy.
    const purpose = this.hub.consent.policy.purpose(purposeName).name;
    const { gate } = this.hub;
    const self = this.hub.config.name;
    const others = hubs.filter((h) => h !== self);
    const [local, remote] = await Promise.all([
      hubs.includes(self)
        ? releaseCohort(this.hub, def, project ? `project:${project.id}` : 'coordinator', purpose)
        : Promise.resolve(undefined),
      fanOut(
        federation.client,
        others,
        'cohort.run',
        { definition: def, purpose, ...scope },
        { timeoutMs: federation.timeoutMs },
      ),
    ]);
    // A peer whose answer this hub could not have released itself counts as one that did not answer.
    const failed = [...remote.failed];
    const usable = remote.results.filter((r) => {
      const problem = peerCohortProblem(r.value, r.hub, this.hub.config.privacy.disclosure);
      if (problem !== undefined)
        failed.push({ hub: r.hub, kind: 'bad-response', message: `unusable answer: ${problem}` });
      return problem === undefined;
    });
    const answered: Released<ReleasedCohort>[] = [
      ...(local ? [local] : []),
      ...usable.map((r) => gate.reissue(r.value as ReleasedCohort, 'peer')),
    ];
    const plain = answered.map((h) => h.value);
    let distinctPersons: Released<ReleasedCount> | undefined;
    let distinctUnavailable: string | undefined;
    const withoutKey = plain.filter((h) => !h.linkage).map((h) => h.hub);
    if (this.party === undefined || withoutKey.length > 0) {
      distinctUnavailable = `no linkage key on ${this.party === undefined ? self : withoutKey.join(', ')}`;
    } else if (plain.length > 0) {
      const ring = plain.map((h) => h.hub);
      const call: RingCall = async (hub, request) =>
        hub === self
          ? this.linkage({ definition: def, ring: request, purpose })
          : ((await federation.client.call(
              hub,
              'cohort.linkage',
              { definition: def, ring: request, purpose, ...scope },
              { timeoutMs: federation.timeoutMs },
            )) as RingResponse);
      try {
        distinctPersons = gate.count(await federatedDistinctCount(ring, call));
      } catch (e) {
        // Reported, not hidden: the per-hub counts stand; the distinct count is missing and says why.
        if (!(e instanceof PeerCallError)) throw e;
        distinctUnavailable = `the linkage ring failed at ${e.failure.hub}: ${e.failure.kind}`;
      }
    }
    return gate.bundle({
      name: def.name,
      purpose,
      hubs: answered,
      failed: describeFailures(failed),
      complete: failed.length === 0,
      // A sum of released counts is derived from released values only.
      summedPersons: gate.reissue(plain.length === 0 ? null : plain.reduce((s, h) => s + (h.persons ?? 0), 0), 'peer'),
      suppressedHubs: gate.parameter(plain.filter((h) => h.persons === null).length, 'hubs whose count was withheld'),
      ...(distinctPersons !== undefined && { distinctPersons }),
      ...(distinctUnavailable !== undefined && { distinctUnavailable }),
      // Pooled from the hubs' released n, means, SDs and histograms (measurement-pooling.ts).
      measurements: gate.reissue(poolMeasurements(plain), 'peer'),
    });
  }
}
