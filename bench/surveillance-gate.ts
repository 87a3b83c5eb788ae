import type { ModelSeasonScores } from '../src/surveillance/index.js';
import {
  BASELINE,
  forecastSeason,
  gatherReleased,
  PEOPLE,
  REGIONS,
  ROUNDS,
  startThreeRegions,
} from '../test/support/surveillance-regions.js';

type Figure = [what: string, value: (s: ModelSeasonScores) => number];

const ENSEMBLE_FIGURES: Figure[] = [
  ['relative WIS', (s) => s.relativeWisNatural],
  ['log1p relative WIS', (s) => s.relativeWisLog],
  ['50% coverage', (s) => s.overall.coverage50],
  ['95% coverage', (s) => s.overall.coverage95],
];
/** The baseline's relative WIS is 1 against itself on either series; its mean WIS says what the gate costs it. */
const BASELINE_FIGURES: Figure[] = [
  ['mean WIS', (s) => s.overall.meanWis],
  ['50% coverage', (s) => s.overall.coverage50],
  ['95% coverage', (s) => s.overall.coverage95],
];

/**
 * Issue 14, utility measured rather than assumed: the three-region surveillance run of
 * test/surveillance-federated.test.ts (5,000 residents a region, three hubs over signed HTTP, 30 rounds of
 * 2023-24), scored from the series as the release gate released them beside the same models on the hubs' exact
 * series, both against the generator's expected curves. The issue sets no floor: it fails only if the run does.
 */
export async function runSurveillanceGateBench(): Promise<boolean> {
  const env = await startThreeRegions();
  try {
    console.log(
      `surveillance-gate generate+ingest+serve: ${env.seconds.toFixed(1)} s (${REGIONS.length} regions of ${PEOPLE.toLocaleString('en')} residents)`,
    );
    const rejected = [...env.rejected.values()].reduce((a, b) => a + b, 0);
    if (rejected > 0) {
      console.error(`surveillance-gate: ${rejected} resources rejected at ingest; nothing measured`);
      return false;
    }
    const gathered = await gatherReleased(env);
    if (!gathered.complete) {
      console.error('surveillance-gate: not every hub answered the gather; nothing measured');
      return false;
    }
    const season = forecastSeason(gathered, env);
    const expectedCount = ROUNDS.length * 4 * REGIONS.length;
    const line = (model: string, label: string, [what, value]: Figure) => {
      const r = value(season.released.get(model) as ModelSeasonScores);
      const x = value(season.exact.get(model) as ModelSeasonScores);
      console.log(
        `surveillance-gate ${label}${what}: ${r.toFixed(3)} released (${(r / x).toFixed(2)}x vs ${x.toFixed(3)} exact)`,
      );
      return Number.isFinite(r) && Number.isFinite(x);
    };
    let ok = true;
    for (const [model, label, figures] of [
      [season.ensembleName, '', ENSEMBLE_FIGURES],
      [BASELINE, 'baseline ', BASELINE_FIGURES],
    ] as const) {
      for (const scores of [season.released, season.exact]) {
        if (scores.get(model)?.overall.count !== expectedCount) {
          console.error(`surveillance-gate: ${model} scored ${scores.get(model)?.overall.count} of ${expectedCount}`);
          ok = false;
        }
      }
      for (const figure of figures) ok = line(model, label, figure) && ok;
    }
    return ok;
  } finally {
    await env.close();
  }
}
