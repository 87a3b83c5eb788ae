/**
 * Validation of third parties' models on this hub's data: submissions (an ONNX model with its manifest), sandboxed
 * runs, the external-validation report through the release gate, signed with the hub's identity. Guide:
 * docs/validation.md.
 */
export type { DriftMeasure } from './drift-monitor.js';
export { measureDrift, populationStabilityIndex, SCORE_SERIES } from './drift-monitor.js';
export type { CalibrationOutcome } from './federated-calibration.js';
export { runFederatedValidation } from './federated-run.js';
export type {
  FederatedParts,
  HubValidation,
  ScoreBin,
  ValidationProjects,
} from './federated-validation.js';
export {
  LOGIT_GRID,
  releaseHubValidation,
  scoreHistogram,
  VALIDATION_SCORE_OPERATION,
  ValidationFederation,
} from './federated-validation.js';
export type { ManifestScope, TrainingFeatureSummary, ValidationManifest } from './manifest.js';
export {
  DEFAULT_THRESHOLDS,
  MANIFEST_SCHEMA,
  manifestPlan,
  manifestProjectTables,
  manifestScope,
  validateManifest,
} from './manifest.js';
export type { SandboxLimits, SandboxOutput, SandboxRun } from './model-sandbox.js';
export { DEFAULT_SANDBOX_LIMITS, risksOf, runSandboxed } from './model-sandbox.js';
export {
  hubSubmissions,
  predictRowsWithSubmission,
  predictWithSubmission,
  runValidation,
  submitModel,
  VALIDATION_PURPOSE,
  validationModule,
} from './model-validation.js';
export type { CalibrationRound, PooledCalibration, RoundPart } from './pooled-calibration.js';
export {
  CALIBRATION_ROUNDS,
  CALIBRATION_ROUNDS_PER_DAY,
  CalibrationSessions,
  calibrationMigrations,
  checkCalibrationRound,
  countCalibrationRound,
  fitPooledCalibration,
  VALIDATION_CALIBRATION_OPERATION,
} from './pooled-calibration.js';
export type { DecisionCounts, HubCounts, RiskBin } from './pooled-counts.js';
export {
  pooledCurve,
  pooledNetBenefit,
  RISK_GRID,
  releaseDecisionCounts,
  releaseRiskGrid,
} from './pooled-counts.js';
export type { PooledValidationReport } from './pooled-report.js';
export { buildPooledReport, pooledAuroc } from './pooled-report.js';
export { validationReportHtml } from './report-html.js';
export { CHROMIUM_PATH, jwsDigest, pdfJwsDigest, printReportPdf } from './report-pdf.js';
export type { ReportVerification } from './report-signature.js';
export { REPORT_JWS_TYPE, signReport, signWith, verifyOwnReport, verifyReport } from './report-signature.js';
export type { SandboxLease, SandboxPoolOptions } from './sandbox-pool.js';
export { DEFAULT_POOL_OPTIONS, SandboxPool } from './sandbox-pool.js';
export type { Submission, SubmissionStatus } from './submission-store.js';
export { SubmissionStore, validationMigrations } from './submission-store.js';
export type { ValidationInputs, ValidationReport } from './validation-report.js';
export { buildValidationReport, integratedCalibrationIndex, REPORT_FORMAT } from './validation-report.js';
