export type { ConsentFilter } from './consent-decisions.js';
export { ConsentDecisions, consentDecisionMigrations, filterOf } from './consent-decisions.js';
export type { ConsentDecision, DecisionSpan, PersonDecision } from './consent-evaluation.js';
export { consentDecision, decisionSpans, personDecision } from './consent-evaluation.js';
export type { Purpose } from './consent-policy.js';
export { ACT_REASON, BUILTIN_PURPOSES, CONSENT_SCOPE, ConsentPolicy, HEALTHMESH_PURPOSE } from './consent-policy.js';
export type {
  CountTable,
  ReleasedCount,
  ReleasedSummary,
  ReleasedTable,
  SummaryStatistics,
} from './disclosure-control.js';
export {
  DEFAULT_DISCLOSURE_POLICY,
  isReleasedCount,
  releaseCount,
  releaseCounts,
  releaseSummary,
  releaseTable,
  suppressionPattern,
} from './disclosure-control.js';
export { ADDRESS_MASK, EMAIL_MASK, ID_MASK, PHONE_MASK, RRN_MASK, scrubText } from './identifier-scrubber.js';
export { distinctCount, LinkageBlinder, ringAfter } from './linkage-blinding.js';
export type { RingCall, RingRequest, RingResponse } from './linkage-ring.js';
export { federatedDistinctCount, LinkageParty } from './linkage-ring.js';
export { LinkageService } from './linkage-service.js';
export type { LinkageKey } from './linkage-token.js';
export {
  formatLinkageKey,
  issueLinkageKey,
  LinkageTokeniser,
  normaliseRrn,
  parseLinkageKey,
  RRN_SYSTEM,
} from './linkage-token.js';
export type { NameSpan } from './name-scrubber.js';
export { findNames, NAME_MASK, scrubNames } from './name-scrubber.js';
export type { PersonLink } from './person-linkage.js';
export { personLinkage, personLinkageMigrations } from './person-linkage.js';
export { PopulationSketch } from './population-sketch.js';
export { Pseudonymiser } from './pseudonymiser.js';
export type { PooledQuantile, ReleasedHistogram } from './quantile-histogram.js';
export { gridCell, gridCellSql, poolQuantiles, releaseHistogram, VALUE_GRID_RATIO } from './quantile-histogram.js';
export type { DisclosureRule, FitSupport, Gated, GroupStatistic, MetricSupport, Unwrapped } from './release-gate.js';
export { isReleased, Released, ReleaseGate, refusal, toPrecision } from './release-gate.js';
export type {
  PartsOutcome,
  Refusal,
  RefusalAudit,
  ReleaseCell,
  ReleaseLogOptions,
  ReleasePart,
  ReleaseRequest,
} from './release-log.js';
export { ReleaseLog, releaseLogMigrations, releaseTerms } from './release-log.js';
export type { BirthDatePrecision, DeidentifyOptions } from './resource-deidentifier.js';
export { ResourceDeidentifier } from './resource-deidentifier.js';
export type { SeenNamesData } from './seen-names.js';
export { NAMED_PERSON_TYPES, SeenNames } from './seen-names.js';
