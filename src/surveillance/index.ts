/**
 * Epidemic surveillance: weekly series per location (imported, or counted from the hub's cohorts),
 * FluSight-style quantile forecasters, their scoring (weighted interval score, relative WIS, coverage), and
 * stored forecasts and epidemic alerts. See docs/surveillance.md.
 */
export {
  AUTOREGRESSIVE_MIN_WEEKS,
  type AutoregressiveOptions,
  autoregressiveForecaster,
} from './autoregressive-forecaster.js';
export { type ReproductionGap, reproductionGaps } from './baseline-reproduction.js';
export {
  type EpidemicAlert,
  findThresholdCrossings,
  hubAlerts,
  keepAlerts,
  listAlerts,
  quantileAt,
  raiseAlerts,
} from './epidemic-alerts.js';
export {
  type FederatedForecast,
  type FederatedForecastOptions,
  type FederatedPanel,
  type FederatedSeries,
  federatedPanel,
  releasedTargetName,
  SERIES_OPERATION,
  SERIES_SCOPE,
  SeriesFederation,
  type SeriesProject,
  type SeriesProjects,
  seriesUseRef,
} from './federated-series.js';
export { BASELINE_MIN_WEEKS, type FlusightBaselineOptions, flusightBaseline } from './flusight-baseline.js';
export {
  inFlusight2023Evaluation,
  relativeWis,
  type ScoredForecast,
  type ScoreSummary,
  scoreForecasts,
  summariseScores,
  type TruthTable,
  truthTable,
  type WisScale,
} from './forecast-scoring.js';
export {
  type ForecastQuery,
  type ForecastSource,
  listForecasts,
  listScores,
  type StoredForecast,
  type StoredScore,
  saveForecasts,
  saveScores,
  surveillanceMigrations,
  surveillanceModule,
} from './forecast-store.js';
export type { Forecaster, RoundQuantiles } from './forecaster.js';
export {
  CONFIRMED_FLU_COHORT,
  CONFIRMED_FLU_TARGET,
  type HubSeries,
  hubWeeklySeries,
  ILI_COHORT,
  ILI_TARGET,
  weekEndingDay,
} from './hub-series.js';
export { type IntervalScore, intervalScore } from './interval-score.js';
export { quantileEnsemble } from './quantile-ensemble.js';
export {
  FLU_HOSP_TARGET,
  formatModelOutputCsv,
  HORIZON_COUNT,
  type ModelOutputOptions,
  parseModelOutputCsv,
  QUANTILE_LEVELS,
  type QuantileForecast,
  targetEndDay,
} from './quantile-forecast.js';
export {
  checkReleasedSeries,
  gatedHubSeries,
  gatedSeries,
  type ReleasedHubSeries,
  releaseHubSeries,
  releaseWeeklySeries,
  SERIES_RELEASE_FAMILY,
  type SeriesReleaseOptions,
} from './released-series.js';
export { RENEWAL_MIN_WEEKS, type RenewalOptions, renewalForecaster } from './renewal-forecaster.js';
export { forecastRound, panelUpTo, rollingForecast } from './rolling-forecast.js';
export {
  forecasterNamed,
  healthmeshEnsemble,
  type ModelSeasonScores,
  runSeason,
  scoreSeason,
} from './season-evaluation.js';
export { listSnapshots, readModelOutputDir, readTargetDataFile, type TargetDataSnapshot } from './season-files.js';
export {
  forecastSeason,
  SEASON_MODELS,
  type SeasonForecast,
  type SeasonInput,
  type SeasonRound,
  type SeasonSnapshot,
  seasonForecaster,
  seasonRounds,
} from './season-forecast.js';
export { seasonalThresholds } from './seasonal-threshold.js';
export { type RecalibrationOptions, spreadRecalibration } from './spread-recalibration.js';
export {
  type ImputedSeries,
  type ReleasedTarget,
  releaseThresholds,
  type SuppressedWeekPolicy,
  seriesFromRelease,
  spreadSuppressedMass,
  suppressedMidpoint,
} from './suppressed-weeks.js';
export {
  MISSING_POLICIES,
  type MissingPolicy,
  parseTargetDataCsv,
  type TargetDataOptions,
} from './target-data-csv.js';
export { buildPanel, isoDay, panelIndexOf, parseIsoDay, type SeriesPanel, type WeeklySeries } from './weekly-series.js';
