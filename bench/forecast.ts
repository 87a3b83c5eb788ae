import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  forecastSeason,
  inFlusight2023Evaluation,
  isoDay,
  listSnapshots,
  type ModelSeasonScores,
  type QuantileForecast,
  readModelOutputDir,
  readTargetDataFile,
  type ScoredForecast,
  scoreSeason,
  seasonForecaster,
  truthTable,
} from '../src/surveillance/index.js';

/**
 * A FluSight season's folder (the layout of ../shared/data/flusight-2023-24/): `target-data/` with the final
 * target file, `target-data-archive/` with the dated snapshots, `model-output/FluSight-{baseline,ensemble}/`.
 * FORECAST_SEASON_DIR names another season's folder of that layout; the bench runs unchanged on it.
 */
const DIR =
  process.env.FORECAST_SEASON_DIR ?? fileURLToPath(new URL('../../shared/data/flusight-2023-24/', import.meta.url));
/** Floors from issue 20: relative WIS to FluSight-baseline at every horizon, 95% coverage band. */
const MAX_RELATIVE_WIS = 0.85;
const COVERAGE_95 = [0.9, 0.97] as const;
const OURS = 'healthmesh-ensemble';

/** The latest-dated target file of `target-data/`: the season's final values, the truth scored against. */
function finalTargetFile(): string {
  const dated = readdirSync(`${DIR}/target-data`)
    .filter((n) => /^target-hospital-admissions.*\.csv(\.gz)?$/.test(n))
    .sort();
  const file = dated[dated.length - 1];
  if (file === undefined) throw new Error(`${DIR}/target-data holds no target-hospital-admissions*.csv`);
  return `${DIR}/target-data/${file}`;
}

/**
 * 2023-24: the cells FluSight's report scored (`inFlusight2023Evaluation`); another season: states, DC and PR,
 * horizons 0..3.
 */
function evaluated(season2023: boolean): (s: ScoredForecast) => boolean {
  if (season2023) return inFlusight2023Evaluation;
  return (s) => s.location !== 'US' && s.horizon >= 0 && s.horizon <= 3;
}

/**
 * The season from its weekly snapshots (each round from the data known at its date), our ensemble against the
 * published FluSight-ensemble on the same cells, relative WIS to the published FluSight-baseline (log1p, as the
 * 2023-24 report), and 50%/95% coverage, per horizon.
 */
export async function runForecastBench(): Promise<boolean> {
  if (!existsSync(DIR)) {
    console.error(`forecast: ${DIR} is absent; nothing measured`);
    return false;
  }
  const truthFile = finalTargetFile();
  const series = readTargetDataFile(truthFile, { missing: 'interpolate' });
  const baseline = readModelOutputDir(`${DIR}/model-output/FluSight-baseline`);
  const ensemble = readModelOutputDir(`${DIR}/model-output/FluSight-ensemble`);
  const rounds = [...new Set(baseline.map((f) => f.referenceDay))].sort((a, b) => a - b);
  const snapshots = listSnapshots(`${DIR}/target-data-archive`).map((s) => ({
    day: s.day,
    name: s.file,
    load: () => readTargetDataFile(s.file, { missing: 'interpolate' }),
  }));
  const started = performance.now();
  const season = forecastSeason({ series, snapshots, forecasters: [seasonForecaster('ensemble')], rounds });
  const seconds = (performance.now() - started) / 1000;
  const ours = season.forecasts.get(OURS) as QuantileForecast[];
  const locations = Math.max(...season.rounds.map((r) => r.locations));
  console.log(
    `forecast season ${OURS}: ${seconds.toFixed(1)} s for ${rounds.length} rounds x ${locations} locations from ${snapshots.length} snapshots (${(seconds / rounds.length).toFixed(2)} s a round)`,
  );
  const season2023 = isoDay(rounds[0] as number) === '2023-10-14';
  const include = evaluated(season2023);
  const truth = truthTable(series);
  const scoresOf = (keep: (s: ScoredForecast) => boolean) =>
    scoreSeason(
      new Map([
        [OURS, ours],
        ['FluSight-ensemble', ensemble],
        ['FluSight-baseline', baseline],
      ]),
      truth,
      'FluSight-baseline',
      (s) => include(s) && keep(s),
    );
  console.log(
    `forecast ${isoDay(rounds[0] as number)}..${isoDay(rounds[rounds.length - 1] as number)}, data as known each week, truth ${truthFile.split('/').pop()}; relative WIS (log1p) to FluSight-baseline, coverage on counts`,
  );
  console.log(
    `${'horizon'.padEnd(8)} ${'n'.padStart(5)} | ${'ours rel'.padStart(8)} ${'50%'.padStart(6)} ${'95%'.padStart(6)} | ${'FS-ens rel'.padStart(10)} ${'50%'.padStart(6)} ${'95%'.padStart(6)}`,
  );
  let ok = true;
  const groups: [string, (s: ScoredForecast) => boolean][] = [
    ['all', () => true],
    ...[0, 1, 2, 3].map((h): [string, (s: ScoredForecast) => boolean] => [String(h), (s) => s.horizon === h]),
  ];
  for (const [label, keep] of groups) {
    const scores = scoresOf(keep);
    const o = scores.get(OURS) as ModelSeasonScores;
    const e = scores.get('FluSight-ensemble') as ModelSeasonScores;
    console.log(
      `${label.padEnd(8)} ${String(o.overall.count).padStart(5)} | ${o.relativeWisLog.toFixed(3).padStart(8)} ${o.overall.coverage50.toFixed(3).padStart(6)} ${o.overall.coverage95.toFixed(3).padStart(6)} | ${e.relativeWisLog.toFixed(3).padStart(10)} ${e.overall.coverage50.toFixed(3).padStart(6)} ${e.overall.coverage95.toFixed(3).padStart(6)}`,
    );
    const c95 = o.overall.coverage95;
    if (o.relativeWisLog > MAX_RELATIVE_WIS || c95 < COVERAGE_95[0] || c95 > COVERAGE_95[1]) ok = false;
  }
  const all = scoresOf(() => true);
  const rel = (all.get(OURS) as ModelSeasonScores).relativeWisLog;
  const fs = (all.get('FluSight-ensemble') as ModelSeasonScores).relativeWisLog;
  console.log(
    `forecast ensemble relative WIS: ${rel.toFixed(3)} (${(rel / fs).toFixed(3)}x vs FluSight-ensemble ${fs.toFixed(3)})`,
  );
  if (!ok) {
    console.error(
      `forecast: floor missed (relative WIS <= ${MAX_RELATIVE_WIS} and 95% coverage in ${COVERAGE_95.join('-')}, at every horizon)`,
    );
  }
  return ok;
}
