import { HealthmeshError } from '../core/index.js';
import { autoregressiveForecaster } from './autoregressive-forecaster.js';
import { flusightBaseline } from './flusight-baseline.js';
import {
  relativeWis,
  type ScoredForecast,
  type ScoreSummary,
  scoreForecasts,
  summariseScores,
  type TruthTable,
} from './forecast-scoring.js';
import type { Forecaster } from './forecaster.js';
import { quantileEnsemble } from './quantile-ensemble.js';
import type { QuantileForecast } from './quantile-forecast.js';
import { renewalForecaster } from './renewal-forecaster.js';
import { rollingForecast } from './rolling-forecast.js';
import { type RecalibrationOptions, spreadRecalibration } from './spread-recalibration.js';
import type { SeriesPanel } from './weekly-series.js';

/**
 * healthmesh's ensemble: the equal-weight quantile average of the pooled fourth-root autoregression and the
 * pooled renewal model, its 50% interval and its tails recalibrated separately per horizon on the coverage of the
 * last 8 weeks' resolved rounds (further back, up to 52 weeks, until 400 forecasts: a few locations need more). Chosen on the 2022-23 season (data as of 2023-09-23, before 2023-24's first round;
 * docs/surveillance.md): a 52-week window with one factor left 95% coverage at 0.958, 0.982 at horizon 0.
 */
export function healthmeshEnsemble(recalibration: RecalibrationOptions = {}): Forecaster {
  return spreadRecalibration(quantileEnsemble([autoregressiveForecaster(), renewalForecaster()]), {
    objective: 'coverage-split',
    windowWeeks: 8,
    minForecasts: 400,
    ...recalibration,
  });
}

/**
 * The forecaster a user names: `ensemble` ({@link healthmeshEnsemble}) or `baseline` (the FluSight baseline).
 * Anything else is `API_BAD_REQUEST` naming the field `model`.
 */
export function forecasterNamed(model: string): Forecaster {
  if (model === 'ensemble') return healthmeshEnsemble();
  if (model === 'baseline') return flusightBaseline();
  throw new HealthmeshError('API_BAD_REQUEST', `model must be ensemble or baseline, got "${model}"`, {
    path: 'model',
  });
}

/** Rolling forecasts of several models over the same reference dates. */
export function runSeason(
  panel: SeriesPanel,
  forecasters: readonly Forecaster[],
  referenceDays: readonly number[],
): Map<string, QuantileForecast[]> {
  return new Map(forecasters.map((f) => [f.name, rollingForecast(panel, f, referenceDays)]));
}

/** Scores of one model over a season. */
export interface ModelSeasonScores {
  readonly overall: ScoreSummary;
  readonly byLocation: Map<string, ScoreSummary>;
  readonly byHorizon: Map<string, ScoreSummary>;
  /** Pairwise relative WIS against the baseline on the log1p scale (FluSight 2023-24's ranking). */
  readonly relativeWisLog: number;
  /** The same on the count scale. */
  readonly relativeWisNatural: number;
}

/**
 * Scores every model's forecasts against the truth, keeping those `include` accepts (e.g.
 * {@link inFlusight2023Evaluation}), with relative WIS against `baseline` (one of the models).
 */
export function scoreSeason(
  forecasts: ReadonlyMap<string, readonly QuantileForecast[]>,
  truth: TruthTable,
  baseline: string,
  include: (s: ScoredForecast) => boolean = () => true,
): Map<string, ModelSeasonScores> {
  const scored = new Map([...forecasts].map(([name, f]) => [name, scoreForecasts(f, truth).filter(include)]));
  const relLog = relativeWis(scored, baseline, 'log1p');
  const relNatural = relativeWis(scored, baseline, 'natural');
  return new Map(
    [...scored].map(([name, s]) => [
      name,
      {
        overall: summariseScores(s).get('all') as ScoreSummary,
        byLocation: summariseScores(s, (x) => x.location),
        byHorizon: summariseScores(s, (x) => String(x.horizon)),
        relativeWisLog: relLog.get(name) as number,
        relativeWisNatural: relNatural.get(name) as number,
      },
    ]),
  );
}
