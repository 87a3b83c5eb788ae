/**
 * Synthetic population of three Korean regions with known ground truth: FHIR R4 NDJSON plus the true risks,
 * onsets and epidemic curves the data was drawn from. Knows nothing of hubs (docs/synth.md).
 */
export { baselineHazards, targetPrevalence } from './baseline-hazards.js';
export type { Disease, DiseaseId } from './diseases.js';
export { DISEASE_IDS, DISEASES, TARGET_AGES } from './diseases.js';
export { visitorPatientId } from './fhir-writer.js';
export type { SynthOptions, SynthSummary } from './generator.js';
export { generateRegion, SYNTH_RESOURCE_TYPES } from './generator.js';
export { residentRegistrationNumber } from './identity.js';
export { GENOTYPED_SHARE, OPT_OUT_SHARE, TRAVELLER_SHARE, travelDestination } from './person.js';
export type { PrevalenceRow } from './prevalence-report.js';
export { formatPrevalenceReport, prevalenceReport } from './prevalence-report.js';
export type { RegionId } from './regions.js';
export { AGE_BANDS, isRegionId, REGION_IDS, REGIONS } from './regions.js';
