import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  autoregressiveForecaster,
  buildPanel,
  type Forecaster,
  flusightBaseline,
  healthmeshEnsemble,
  inFlusight2023Evaluation,
  readModelOutputDir,
  readTargetDataFile,
  renewalForecaster,
  rollingForecast,
  scoreSeason,
  truthTable,
} from '../src/surveillance/index.js';

const DIR = fileURLToPath(new URL('../../shared/data/flusight-2023-24/', import.meta.url));
/** Floors from issue 7: the ensemble's relative WIS and its 95% coverage band over 2023-24. */
const MAX_RELATIVE_WIS = 0.85;
const COVERAGE_95 = [0.9, 0.95] as const;

/** Forecasts all 53 locations for all 30 rounds of 2023-24 with each model; the published-setting baseline is the reference. */
export async function runForecastBench(): Promise<boolean> {
  if (!existsSync(DIR)) {
    console.error(`forecast: ${DIR} is absent; nothing measured`);
    return false;
  }
  const series = readTargetDataFile(`${DIR}target-data/target-hospital-admissions_2024-04-27.csv`);
  const panel = buildPanel(series);
  const published = readModelOutputDir(`${DIR}model-output/FluSight-baseline`);
  const rounds = [...new Set(published.map((f) => f.referenceDay))].sort((a, b) => a - b);
  const time = (model: Forecaster) => {
    const t = performance.now();
    const forecasts = rollingForecast(panel, model, rounds);
    return { seconds: (performance.now() - t) / 1000, forecasts };
  };
  const reference = time(flusightBaseline());
  const what = `${panel.locations.length} locations x ${rounds.length} rounds`;
  console.log(
    `forecast FluSight-baseline (nsims 1e5, reference): ${reference.seconds.toFixed(2)} s for ${what} (1.00x)`,
  );
  let ensembleForecasts = reference.forecasts;
  for (const model of [autoregressiveForecaster(), renewalForecaster(), healthmeshEnsemble()]) {
    const run = time(model);
    console.log(
      `forecast ${model.name}: ${run.seconds.toFixed(2)} s for ${what} (${(run.seconds / reference.seconds).toFixed(2)}x vs FluSight-baseline)`,
    );
    ensembleForecasts = run.forecasts;
  }
  const scores = scoreSeason(
    new Map([
      ['ensemble', ensembleForecasts],
      ['FluSight-baseline', published],
    ]),
    truthTable(series),
    'FluSight-baseline',
    inFlusight2023Evaluation,
  );
  const s = scores.get('ensemble');
  const rel = s?.relativeWisLog ?? Number.NaN;
  const cov = s?.overall.coverage95 ?? Number.NaN;
  console.log(`forecast ensemble relative WIS: ${rel.toFixed(3)} (${rel.toFixed(3)}x vs published FluSight-baseline)`);
  console.log(`forecast ensemble 95% coverage: ${cov.toFixed(3)} (${(cov / 0.95).toFixed(3)}x vs nominal 0.95)`);
  const ok = rel <= MAX_RELATIVE_WIS && cov >= COVERAGE_95[0] && cov <= COVERAGE_95[1];
  if (!ok)
    console.error(`forecast: floor missed (relative WIS <= ${MAX_RELATIVE_WIS}, 95% coverage in ${COVERAGE_95})`);
  return ok;
}
