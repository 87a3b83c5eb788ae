export type { Random } from '../core/index.js';
export { seededRandom } from '../core/index.js';
export type { BoostingCandidate, BoostingTuning, BoostingTuningOptions } from './boosting-tuning.js';
export { DEFAULT_BOOSTING_GRID, fitBoostedTuned } from './boosting-tuning.js';
export type { CalibrationBin } from './calibration.js';
export { brierScore, calibrationCurve, calibrationFit } from './calibration.js';
export { cardFitSupport, releaseModelCard } from './card-release.js';
export type { CoxCalibrationBin } from './cox-calibration.js';
export { coxCalibration } from './cox-calibration.js';
export { harrellConcordance } from './cox-concordance.js';
export type { CoxModel, CoxTraining, SurvivalFitRecord } from './cox-model.js';
export { COX_EVALUATION_NAME, coxFitTable, coxModel, predictCox, trainCox } from './cox-model.js';
export type { CoxCoefficient, CoxFit, CoxOptions, CoxTies } from './cox-regression.js';
export { fitCox } from './cox-regression.js';
export type { RowSplit } from './data-splits.js';
export { personSplit, randomSplit, temporalSplit } from './data-splits.js';
export type { EvaluationOptions, EvaluationReport, Grouping, GroupMetrics, Metrics } from './evaluation.js';
export { bandLabeller, evaluatePredictions, groupingFromColumn } from './evaluation.js';
export { calibrationSvg, evaluationHtml, rocSvg } from './evaluation-html.js';
export type { FeatureMatrix, FeatureSummary } from './feature-matrix.js';
export { featureMatrix, featureMatrixFromRows, selectRows, summariseFeatures } from './feature-matrix.js';
export type { FeaturePlan } from './feature-plan.js';
export { applyFeaturePlan, fitFeaturePlan, rawVectorFromJson } from './feature-plan.js';
export { specTables, specVariables } from './feature-scope.js';
export type { FeatureDefinition, FeatureSpec, MissingPolicy, OutcomeSpec, PopulationSpec } from './feature-spec.js';
export { FEATURE_SPEC_SCHEMA, featureColumns, validateFeatureSpec } from './feature-spec.js';
export type {
  FeatureMoments,
  FederatedLogisticFit,
  FederatedRound,
  ModelProjects,
  RoundAnswer,
} from './federated-logistic.js';
export {
  DEFAULT_FEDERATED_PURPOSE,
  fitFederatedLogistic,
  ModelFederation,
  NEWTON_ROUNDS_PER_DAY,
  pooledPlan,
} from './federated-logistic.js';
export type { FederatedTrainingResult } from './federated-training.js';
export { trainFederated } from './federated-training.js';
export type { BoostedModel, BoostedTree, BoostingDiagnostics, BoostingOptions } from './gradient-boosting.js';
export { boostedScores, fitBoosted, predictBoosted } from './gradient-boosting.js';
export type { FeatureScope, HubFeatureRows } from './hub-features.js';
export { buildHubFeatures } from './hub-features.js';
export { hubModelRegistry, modelsModule } from './hub-models.js';
export type { CoefficientRow, LogisticFit } from './logistic-inference.js';
export { logisticFit, twoSidedNormalP } from './logistic-inference.js';
export type { NewtonPart } from './logistic-newton.js';
export { partialNewtonStep, sumNewtonParts } from './logistic-newton.js';
export type { LogisticDiagnostics, LogisticModel, LogisticOptions } from './logistic-regression.js';
export { fitLogistic, NewtonIteration, predictLogistic } from './logistic-regression.js';
export type { FlattenedRecords } from './merged-sources.js';
export { flattenRecords } from './merged-sources.js';
export type {
  CardFeature,
  FederatedFitRecord,
  ModelCard,
  ModelCardInput,
  RiskModel,
  TableSource,
  TrainingFeature,
  TrainingSummary,
} from './model-card.js';
export { modelCard, trainingSummary } from './model-card.js';
export type { ModelListing, ModelScope, ModelServing, RegisteredModel, ServingStatus } from './model-registry.js';
export { ModelRegistry, modelMigrations } from './model-registry.js';
export { MODEL_METHOD_SYSTEM, riskAssessment, scoreFeatureVector, scoreHubRows } from './model-scoring.js';
export type { ModelTable, ModelTableOptions, TableMissingPolicy } from './model-table.js';
export { readModelTable, TABLE_MISSING_POLICIES } from './model-table.js';
export type { FittedLearner, LearnerSpec, TrainingResult, TrainingSpec } from './model-training.js';
export { fitLearner, parseTrainingSpec, planOf, predictRisk, rowGroupings, trainFromSpec } from './model-training.js';
export { boostedToOnnx, logisticToOnnx, ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.js';
export type { RocAnalysis } from './roc-metrics.js';
export { rocAnalysis } from './roc-metrics.js';
export type { TableCoxResult, TableTrainingOptions, TableTrainingResult } from './table-training.js';
export { checkTestFraction, trainCoxFromTable, trainFromTable } from './table-training.js';
