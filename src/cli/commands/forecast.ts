import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { Hub } from '../../hub/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import type { EpidemicAlert, ModelSeasonScores, QuantileForecast, ScoreSummary } from '../../surveillance/index.js';
import {
  buildPanel,
  CONFIRMED_FLU_TARGET,
  FLU_HOSP_TARGET,
  flusightBaseline,
  forecasterNamed,
  forecastRound,
  formatModelOutputCsv,
  hubWeeklySeries,
  ILI_TARGET,
  isoDay,
  parseIsoDay,
  parseModelOutputCsv,
  raiseAlerts,
  readTargetDataFile,
  rollingForecast,
  saveForecasts,
  saveScores,
  scoreSeason,
  seasonalThresholds,
  truthTable,
} from '../../surveillance/index.js';
import { audited, pathTarget } from '../audited-work.js';
import { hubJson, ownHubEndpoint } from '../hub-api.js';
import type { Io } from '../io.js';
import { forecastSeasonCommand } from './forecast-season.js';

const BASELINE = 'FluSight-baseline';

function dayOption(value: string, option: string): number {
  const day = parseIsoDay(value);
  if (day === undefined) {
    throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `--${option} must be a date YYYY-MM-DD, got "${value}"`, {
      path: option,
    });
  }
  return day;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new HealthmeshError('INGEST_UNREADABLE', `cannot read ${file}`, { file }, { cause });
  }
}

/** The target of a model-output file: the `target` column of its first data row. */
function targetOf(text: string, file: string): string {
  const [header, first] = text.split(/\r?\n/, 2);
  const column = (header ?? '').split(',').indexOf('target');
  const target = column >= 0 ? (first ?? '').split(',')[column] : undefined;
  if (target === undefined || target === '') {
    throw new HealthmeshError('SURVEILLANCE_CSV_HEADER', `${file}: no target column or no rows`, { file, line: 1 });
  }
  return target;
}

interface RunOptions {
  dir: string;
  series?: string;
  referenceDate?: string;
  out?: string;
  model: string;
  confirmed?: boolean;
  hubs?: string;
  url?: string;
  suppressedWeeks: string;
}

function reportAlerts(alerts: readonly EpidemicAlert[], io: Io): void {
  for (const a of alerts) {
    io.err.write(
      `ALERT ${a.location}: q${a.quantileLevel} forecast ${a.forecastValue.toFixed(1)} ≥ threshold ${a.threshold} for the week ending ${a.targetEndDate} (horizon ${a.horizon})\n`,
    );
  }
}

interface FederatedForecastReply {
  model: string;
  target: string;
  referenceDate: string;
  forecasts: { referenceDate: string; location: string; horizon: number; quantiles: number[] }[];
  alerts: EpidemicAlert[];
  imputedWeeks: Record<string, string[]>;
  failed: { hub: string; kind: string }[];
  complete: boolean;
  issue?: { diagnostics?: string }[];
}

/**
 * `forecast run --hubs`: through the serving coordinator's `POST /surveillance/$federated-forecast` (its store is
 * open in its own process and it holds the federation identity). Each hub releases its series under its own
 * disclosure control; the forecasts and alerts are stored in the coordinator.
 */
async function runFederatedForecast(opts: RunOptions, io: Io): Promise<void> {
  const hubs = (opts.hubs ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const hub = ownHubEndpoint(opts.dir, opts.url);
  const url = hub.url;
  const body = await hubJson<FederatedForecastReply>(hub, 'POST', '/surveillance/$federated-forecast', {
    hubs,
    target: opts.confirmed ? 'confirmed' : 'ili',
    model: opts.model,
    suppressed_weeks: opts.suppressedWeeks,
    ...(opts.referenceDate !== undefined && { reference_date: opts.referenceDate }),
  });
  const forecasts: QuantileForecast[] = body.forecasts.map((f) => ({
    referenceDay: parseIsoDay(f.referenceDate) as number,
    location: f.location,
    horizon: f.horizon,
    values: Float64Array.from(f.quantiles),
  }));
  const csv = formatModelOutputCsv(forecasts, body.target);
  if (opts.out !== undefined) writeFileSync(opts.out, csv);
  else io.out.write(csv);
  io.err.write(
    `${body.model}: ${forecasts.length} forecasts of ${body.target} for ${Object.keys(body.imputedWeeks).join(', ')}, reference date ${body.referenceDate}, stored in the coordinator at ${url}${body.complete ? '' : ` (PARTIAL: no answer from ${body.failed.map((f) => `${f.hub} (${f.kind})`).join(', ')})`}\n`,
  );
  for (const [location, weeks] of Object.entries(body.imputedWeeks)) {
    if (weeks.length > 0) {
      io.err.write(
        `${location}: ${weeks.length} suppressed week(s) read as ${opts.suppressedWeeks} (docs/surveillance.md)\n`,
      );
    }
  }
  reportAlerts(body.alerts, io);
}

async function runForecast(hub: Hub, opts: RunOptions, io: Io): Promise<void> {
  const forecaster = forecasterNamed(opts.model);
  const fromHub = opts.series === undefined ? await hubWeeklySeries(hub) : undefined;
  const series = fromHub ? [opts.confirmed ? fromHub.confirmed : fromHub.ili] : readTargetDataFile(opts.series ?? '');
  const target = fromHub ? (opts.confirmed ? CONFIRMED_FLU_TARGET : ILI_TARGET) : FLU_HOSP_TARGET;
  const panel = buildPanel(series);
  // Default round: the week after the last data week, so horizon 0 is the first week not yet observed.
  const referenceDay =
    opts.referenceDate !== undefined
      ? dayOption(opts.referenceDate, 'reference-date')
      : panel.startDay + 7 * panel.weeks;
  const forecasts = forecastRound(panel, forecaster, referenceDay);
  const csv = formatModelOutputCsv(forecasts, target);
  if (opts.out !== undefined) writeFileSync(opts.out, csv);
  else io.out.write(csv);
  await saveForecasts(hub, forecaster.name, target, forecasts);
  const alerts = await raiseAlerts(hub, forecaster.name, target, forecasts, 'exact', seasonalThresholds(panel));
  const where = opts.out ?? 'stdout';
  io.err.write(
    `${forecaster.name}: ${forecasts.length} forecasts of ${target} for ${panel.locations.length} location(s), reference date ${isoDay(referenceDay)}, written to ${where} and stored in the hub\n`,
  );
  reportAlerts(alerts, io);
}

function row(label: string, s: ScoreSummary, relative: number): string {
  return `${label.padEnd(24)} ${String(s.count).padStart(6)} ${s.meanWis.toFixed(3).padStart(10)} ${relative.toFixed(3).padStart(8)} ${s.coverage50.toFixed(3).padStart(6)} ${s.coverage95.toFixed(3).padStart(6)}`;
}

interface ScoreOptions {
  forecasts: string;
  truth: string;
  baseline?: string;
  json?: boolean;
  dir?: string;
}

async function scoreForecastFile(opts: ScoreOptions, io: Io): Promise<void> {
  const text = readText(opts.forecasts);
  const target = targetOf(text, opts.forecasts);
  const forecasts = parseModelOutputCsv(text, { file: opts.forecasts, target });
  const series = readTargetDataFile(opts.truth);
  const rounds = [...new Set(forecasts.map((f) => f.referenceDay))].sort((a, b) => a - b);
  // Without a baseline file, the FluSight baseline is run on the truth series, each round from the weeks before it.
  const baseline: QuantileForecast[] =
    opts.baseline !== undefined
      ? parseModelOutputCsv(readText(opts.baseline), {
          file: opts.baseline,
          target: targetOf(readText(opts.baseline), opts.baseline),
        })
      : rollingForecast(buildPanel(series), flusightBaseline(), rounds);
  const name = basename(opts.forecasts, '.csv');
  const models = new Map([
    [name, forecasts],
    [BASELINE, baseline],
  ]);
  const truth = truthTable(series);
  const overall = scoreSeason(models, truth, BASELINE).get(name) as ModelSeasonScores;
  const groups: [string, ModelSeasonScores][] = [['all', overall]];
  for (const location of [...overall.byLocation.keys()].sort()) {
    const s = scoreSeason(models, truth, BASELINE, (x) => x.location === location).get(name) as ModelSeasonScores;
    groups.push([`location ${location}`, s]);
  }
  for (const horizon of [...overall.byHorizon.keys()].sort()) {
    const s = scoreSeason(models, truth, BASELINE, (x) => String(x.horizon) === horizon).get(name) as ModelSeasonScores;
    groups.push([`horizon ${horizon}`, s]);
  }
  if (opts.dir !== undefined) {
    // Kept in the hub, served at GET /surveillance/scores; a re-score of the same model and target replaces it.
    const hub = await openHub(opts.dir);
    try {
      const baselineName = opts.baseline ?? 'FluSight-baseline (run on the truth)';
      await saveScores(
        hub,
        name,
        target,
        groups.map(([group, s]) => ({
          group,
          forecasts: s.overall.count,
          meanWis: s.overall.meanWis,
          relativeWis: s.relativeWisNatural,
          relativeWisLog: s.relativeWisLog,
          coverage50: s.overall.coverage50,
          coverage95: s.overall.coverage95,
          baseline: baselineName,
        })),
      );
      await hub.audit.append({
        actor: 'cli',
        action: 'forecast-score',
        // The model is named after its file, whose name is not ours to trust: audited by keyed label.
        target: `${pathTarget(hub, 'file', opts.forecasts)}:${target}`,
        outcome: 'success',
      });
    } finally {
      await hub.close();
    }
  }
  if (opts.json) {
    const out = groups.map(([group, s]) => ({
      group,
      ...s.overall,
      relativeWis: s.relativeWisNatural,
      relativeWisLog: s.relativeWisLog,
    }));
    io.out.write(
      `${JSON.stringify({ model: name, target, baseline: opts.baseline ?? 'FluSight-baseline (run on the truth)', scores: out }, null, 2)}\n`,
    );
    return;
  }
  io.out.write(`${name} (${target}) against ${opts.baseline ?? 'the FluSight baseline run on the truth'}\n`);
  io.out.write(
    `${'group'.padEnd(24)} ${'n'.padStart(6)} ${'WIS'.padStart(10)} ${'rel WIS'.padStart(8)} ${'50%'.padStart(6)} ${'95%'.padStart(6)}\n`,
  );
  for (const [group, s] of groups) io.out.write(`${row(group, s.overall, s.relativeWisNatural)}\n`);
}

/** `healthmesh forecast run | score | season` (docs/surveillance.md). */
export function forecastCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const forecast = program
    .command('forecast')
    .description('Forecast weekly epidemic counts (hubverse quantiles) and score forecasts (docs/surveillance.md).');
  forecast
    .command('run')
    .description(
      'Forecast horizons 0-3 from a target-data CSV or from this hub’s ILI visits; store the forecasts and raise alerts.',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--series <file>', 'hubverse target-data CSV (default: weekly ILI visits counted from the hub)')
    .option('--confirmed', 'from the hub: forecast confirmed influenza instead of ILI visits')
    .option('--reference-date <date>', 'the round’s Saturday (default: the week after the last data week)')
    .option('--model <name>', 'ensemble or baseline', 'ensemble')
    .option('--out <file>', 'write the model-output CSV here (default: stdout)')
    .option(
      '--hubs <names>',
      'forecast every region of these hubs (comma list) from their released series, coordinated by the serving hub of --dir',
    )
    .option('--url <url>', "with --hubs: the coordinating hub's address (default: its configured host and port)")
    .option('--suppressed-weeks <how>', 'with --hubs: read suppressed weeks as midpoint, or refuse them', 'midpoint')
    .addHelpText(
      'after',
      '\nExamples:\n  $ healthmesh forecast run --out ili-forecast.csv\n  $ healthmesh forecast run --series target-hospital-admissions.csv --reference-date 2024-01-06 --out 2024-01-06-healthmesh.csv\n  $ healthmesh forecast run --dir .healthmesh/gwangju --hubs gwangju,gyeonggi,busan --out regions.csv\n',
    )
    .action(async (opts: RunOptions) => {
      if (opts.hubs !== undefined) {
        if (opts.series !== undefined) {
          throw new HealthmeshError('API_BAD_REQUEST', '--hubs and --series cannot be combined', { path: 'hubs' });
        }
        forecasterNamed(opts.model); // a bad --model is refused before anything is sent
        await runFederatedForecast(opts, io);
        setCode(0);
        return;
      }
      const hub = await openHub(opts.dir);
      try {
        await audited(
          hub,
          'forecast-run',
          opts.series !== undefined ? pathTarget(hub, 'file', opts.series) : `hub:${hub.config.name}`,
          () => runForecast(hub, opts, io),
        );
      } finally {
        await hub.close();
      }
      setCode(0);
    });
  forecast
    .command('score')
    .description(
      'Score a model-output CSV: WIS, relative WIS against the baseline, 50%/95% coverage by location and horizon.',
    )
    .requiredOption('--forecasts <file>', 'hubverse model-output CSV to score')
    .requiredOption('--truth <file>', 'hubverse target-data CSV holding the observed values')
    .option('--baseline <file>', 'baseline model-output CSV (default: the FluSight baseline run on the truth)')
    .option('--json', 'print as JSON')
    .option('-d, --dir <dir>', 'also keep the scores in this hub (served at GET /surveillance/scores)')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh forecast score --forecasts 2024-01-06-healthmesh.csv --truth target-hospital-admissions.csv\n',
    )
    .action(async (opts: ScoreOptions) => {
      await scoreForecastFile(opts, io);
      setCode(0);
    });
  forecastSeasonCommand(forecast, io, setCode);
}
