import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../src/core/index.js';
import type { Federation } from '../../src/federation/index.js';
import type { Hub } from '../../src/hub/index.js';
import { initHub, openHub } from '../../src/hub/index.js';
import type {
  FederatedSeries,
  HubSeries,
  ModelSeasonScores,
  QuantileForecast,
  SeriesPanel,
  WeeklySeries,
} from '../../src/surveillance/index.js';
import {
  buildPanel,
  federatedPanel,
  flusightBaseline,
  healthmeshEnsemble,
  hubWeeklySeries,
  parseIsoDay,
  releaseThresholds,
  runSeason,
  SeriesFederation,
  scoreSeason,
  spreadSuppressedMass,
  truthTable,
} from '../../src/surveillance/index.js';
import type { RegionId } from '../../src/synth/index.js';
import { generateRegion } from '../../src/synth/index.js';
import { type EpidemicWeek, ROUNDS_2023_24, readEpidemicTruth } from './epidemic-truth.js';
import { peerEachOther, serveFederated } from './peer-servers.js';
import { ingestOptions } from './temp-hub.js';
import { testHubConfig } from './test-engine.js';

/**
 * The three-region surveillance run (issue 14) that `test/surveillance-federated.test.ts` asserts on and `npm run
 * bench -- surveillance-gate` prints: three generated regions, each ingested into its own hub served over signed
 * HTTP, their weekly series gathered as released, the 2023-24 season forecast and scored against the generator's
 * truth, from the released series and from the exact ones.
 */
export const REGIONS: RegionId[] = ['gwangju', 'gyeonggi', 'busan'];
/**
 * Residents per region. Under the default disclosure policy (suppress under 10, round to 5) a weekly series says
 * something only when its season peaks well above 10: at 1,500 people (the one-region test) the 2023-24 peak is
 * about 10 and nearly every week would be suppressed; at 5,000 the released 2023-24 peaks are 60-65 ILI visits a
 * week. Only the resource types the series read are ingested (Patient, Encounter, Condition, Consent,
 * Organization: 77 MB a region; Observations, about 70% of a region's bytes, are left out). Measured: the whole
 * test file 168-189 s on 2 shared cores at load 9-11 (generating and ingesting 116-141 s of it), 72 s at load under 4.
 */
export const PEOPLE = 5000;
const INGESTED = ['Patient', 'Encounter', 'Condition', 'Consent', 'Organization'];
export const BASELINE = 'FluSight-baseline';
export const ROUNDS = ROUNDS_2023_24;
export const THRESHOLD_PER_1000 = 3;

export type ServedRegion = {
  hub: Hub;
  dir: string;
  token: string;
  app: FastifyInstance;
  federation: Federation;
  series: SeriesFederation;
};

/** The three hubs serving, each region's true epidemic and each hub's series before disclosure control. */
export interface ThreeRegions {
  root: string;
  served: Map<string, ServedRegion>;
  truth: Map<string, EpidemicWeek[]>;
  /** What each hub holds before disclosure control (read in-process, never sent). */
  raw: Map<string, HubSeries>;
  /** Resources each region's ingest rejected (0 expected). */
  rejected: Map<string, number>;
  seconds: number;
  close: () => Promise<void>;
}

/** Generates the three regions, ingests each into its own hub, serves them on loopback and peers them. */
export async function startThreeRegions(): Promise<ThreeRegions> {
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'hm-surv-fed-'));
  const served = new Map<string, ServedRegion>();
  const env: ThreeRegions = {
    root,
    served,
    truth: new Map(),
    raw: new Map(),
    rejected: new Map(),
    seconds: 0,
    close: async () => {
      for (const s of served.values()) await s.app.close().catch(() => undefined);
      for (const s of served.values()) await s.hub.close().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    const thresholds = Object.fromEntries(
      REGIONS.map((r) => [r, { ratePer1000: THRESHOLD_PER_1000, population: PEOPLE }]),
    );
    for (const region of REGIONS) {
      const out = join(root, `synth-${region}`);
      // Only the ingested types are written: the same bytes for them, without serialising the Observations.
      generateRegion({ region, people: PEOPLE, seed: 'surveillance-federated', out, types: INGESTED });
      env.truth.set(region, readEpidemicTruth(out));
      const dir = join(root, region);
      const { adminToken } = await initHub(dir, {
        name: region,
        config: {
          name: region,
          ...(await testHubConfig()),
          surveillance: { epidemicThresholds: thresholds, alertQuantile: 0.5 },
        },
        logger: silentLogger(),
      });
      const hub = await openHub(dir, { logger: silentLogger() });
      const files = INGESTED.map((t) => join(out, `${t}.ndjson`));
      const summary = await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${region}` }));
      env.rejected.set(region, summary.totals.rejected);
      rmSync(out, { recursive: true, force: true });
      const series = new SeriesFederation(hub);
      try {
        const { app, federation } = await serveFederated(hub, series.register(), { series });
        served.set(region, { hub, dir, token: adminToken, app, federation, series });
      } catch (e) {
        await hub.close().catch(() => undefined);
        throw e;
      }
    }
    peerEachOther(served);
    for (const [name, s] of served) env.raw.set(name, await hubWeeklySeries(s.hub));
  } catch (e) {
    await env.close();
    throw e;
  }
  env.seconds = (performance.now() - t0) / 1000;
  return env;
}

/** Every hub's weekly series as that hub released them, gathered by Gwangju over signed HTTP. */
export async function gatherReleased(env: Pick<ThreeRegions, 'served'>): Promise<FederatedSeries> {
  const coordinator = env.served.get('gwangju') as ServedRegion;
  return coordinator.series.gather(coordinator.federation, REGIONS);
}

/** The generator's expected ILI curve of each region, as the truth the season is scored against. */
export function expectedCurves(truth: ReadonlyMap<string, EpidemicWeek[]>) {
  return truthTable(
    REGIONS.map(
      (region): WeeklySeries => ({
        location: region,
        locationName: region,
        startDay: parseIsoDay(truth.get(region)?.[0]?.weekEnd ?? '') as number,
        values: Float64Array.from(truth.get(region) ?? [], (w) => w.expectedIliVisits),
      }),
    ),
  );
}

/** The baseline and the ensemble over the season's rounds. */
export function runModels(panel: SeriesPanel): Map<string, QuantileForecast[]> {
  return runSeason(panel, [flusightBaseline(), healthmeshEnsemble()], ROUNDS);
}

/**
 * The season forecast from the released series (the mass under a hub's threshold spread over 0 … 9, as the
 * coordinator's forecast route does, for both models alike) and from the hubs' exact series, each scored against
 * the expected curves with the baseline run on the same series as the reference.
 */
export function forecastSeason(gathered: FederatedSeries, env: Pick<ThreeRegions, 'truth' | 'raw'>) {
  const { panel, imputedWeeks } = federatedPanel(gathered, 'ili');
  const expected = expectedCurves(env.truth);
  const ofReleased = runModels(panel);
  const ensembleName = [...ofReleased.keys()].find((k) => k !== BASELINE) as string;
  const thresholds = releaseThresholds(gathered.hubs);
  const forecasts = new Map([...ofReleased].map(([k, v]) => [k, spreadSuppressedMass(v, thresholds)]));
  const released = scoreSeason(forecasts, expected, BASELINE);
  const exactPanel = buildPanel(REGIONS.map((r) => (env.raw.get(r) as HubSeries).ili));
  const exact = scoreSeason(runModels(exactPanel), expected, BASELINE);
  return { panel, imputedWeeks, expected, ofReleased, ensembleName, thresholds, forecasts, released, exact };
}

/** Relative WIS and coverage of one model, one line, as the report shows them. */
export function printScores(label: string, scores: Map<string, ModelSeasonScores>, model: string): void {
  const s = scores.get(model) as ModelSeasonScores;
  console.log(
    `${label}: ${model} relative WIS ${s.relativeWisNatural.toFixed(3)} (log1p ${s.relativeWisLog.toFixed(3)}), 50% ${s.overall.coverage50.toFixed(3)}, 95% ${s.overall.coverage95.toFixed(3)}, ${s.overall.count} forecasts`,
  );
}
