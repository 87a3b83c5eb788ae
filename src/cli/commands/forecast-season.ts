import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import type { MissingPolicy, QuantileForecast, SeasonRound, SeasonSnapshot } from '../../surveillance/index.js';
import {
  FLU_HOSP_TARGET,
  forecastSeason,
  formatModelOutputCsv,
  isoDay,
  listSnapshots,
  MISSING_POLICIES,
  parseIsoDay,
  readTargetDataFile,
  seasonForecaster,
  seasonRounds,
} from '../../surveillance/index.js';
import type { Io } from '../io.js';

interface SeasonOptions {
  targetData: string;
  out: string;
  asOf?: string;
  from?: string;
  to?: string;
  missing: string;
  models: string;
  target: string;
}

function dayOf(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const day = parseIsoDay(value);
  if (day === undefined) {
    throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `--${option} must be a date YYYY-MM-DD, got "${value}"`, {
      path: option,
    });
  }
  return day;
}

function missingPolicy(value: string): MissingPolicy {
  if (!(MISSING_POLICIES as readonly string[]).includes(value)) {
    throw new HealthmeshError(
      'API_BAD_REQUEST',
      `--missing must be one of ${MISSING_POLICIES.join(', ')}, got "${value}"`,
      { path: 'missing' },
    );
  }
  return value as MissingPolicy;
}

function roundLine(round: SeasonRound, seconds: number): string {
  const from = round.snapshot !== undefined ? ` from ${basename(round.snapshot)}` : '';
  const left =
    round.leftOut.length > 0 ? `; left out: ${round.leftOut.map((l) => `${l.location} (${l.reason})`).join(', ')}` : '';
  return `${isoDay(round.referenceDay)}: ${round.locations} location(s)${from} in ${seconds.toFixed(1)} s${left}\n`;
}

/** `healthmesh forecast season`: every round of a season from a target-data file, without a hub. */
function runSeason(opts: SeasonOptions, io: Io): void {
  const missing = missingPolicy(opts.missing);
  const forecasters = opts.models
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
    .map(seasonForecaster);
  const series = readTargetDataFile(opts.targetData, { missing });
  const from = dayOf(opts.from, 'from');
  const to = dayOf(opts.to, 'to');
  const rounds = seasonRounds(series, { ...(from !== undefined && { from }), ...(to !== undefined && { to }) });
  const snapshots: SeasonSnapshot[] | undefined =
    opts.asOf === undefined
      ? undefined
      : listSnapshots(opts.asOf).map((s) => ({
          day: s.day,
          name: s.file,
          load: () => readTargetDataFile(s.file, { missing }),
        }));
  for (const s of series) {
    if ((s.missingDays?.length ?? 0) > 0) {
      io.err.write(
        `${s.location}: ${s.missingDays?.length} missing week(s) read as ${missing} (docs/surveillance.md)\n`,
      );
    }
  }
  const started = performance.now();
  let last = started;
  const season = forecastSeason({
    series,
    ...(snapshots !== undefined && { snapshots }),
    forecasters,
    rounds,
    onRound: (round) => {
      const now = performance.now();
      io.err.write(roundLine(round, (now - last) / 1000));
      last = now;
    },
  });
  let files = 0;
  for (const [model, forecasts] of season.forecasts) {
    const dir = join(opts.out, model);
    mkdirSync(dir, { recursive: true });
    const byRound = new Map<number, QuantileForecast[]>();
    for (const f of forecasts) byRound.set(f.referenceDay, [...(byRound.get(f.referenceDay) ?? []), f]);
    for (const [day, round] of byRound) {
      writeFileSync(join(dir, `${isoDay(day)}-${model}.csv`), formatModelOutputCsv(round, opts.target));
      files++;
    }
  }
  io.out.write(
    `${files} file(s) for ${season.rounds.length} round(s) (${isoDay(rounds[0] as number)} .. ${isoDay(rounds[rounds.length - 1] as number)}) of ${[...season.forecasts.keys()].join(', ')} under ${opts.out}${snapshots ? `, each round from the snapshot before it in ${opts.asOf}` : ''}, in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

/** Registers `forecast season` on the `forecast` command (docs/surveillance.md). */
export function forecastSeasonCommand(forecast: Command, io: Io, setCode: (c: number) => void): void {
  forecast
    .command('season')
    .description(
      'Forecast every round of a season from a target-data file, without a hub: rolling, each round from the data known at its date; hubverse files under --out.',
    )
    .requiredOption(
      '--target-data <file>',
      'hubverse target-data CSV (gzipped or not): the rounds, and the data without --as-of',
    )
    .requiredOption('--out <dir>', 'write <dir>/<model>/<reference_date>-<model>.csv')
    .option(
      '--as-of <folder>',
      'dated snapshots of the target data (e.g. target-data-archive/): each round reads the latest one dated before it',
    )
    .option('--from <date>', 'first reference date (default: the second Saturday of October of the season)')
    .option('--to <date>', 'last reference date (default: the week after the last data week)')
    .option('--missing <policy>', `NA rows and missing weeks: ${MISSING_POLICIES.join(', ')}`, 'interpolate')
    .option('--models <names>', 'comma list of ensemble, baseline', 'ensemble')
    .option('--target <name>', 'the target named in the output files', FLU_HOSP_TARGET)
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh forecast season --target-data target-data/target-hospital-admissions.csv \\\n      --as-of target-data-archive/ --models ensemble,baseline --out model-output/\n',
    )
    .action((opts: SeasonOptions) => {
      runSeason(opts, io);
      setCode(0);
    });
}
