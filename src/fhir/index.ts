export type { DateRange } from './date-range.js';
export { dateRange, MAX_TIME, MIN_TIME } from './date-range.js';
export type { InMemoryInput, LineBlock, RawLine, RawRecord, ReaderOptions, RecordInput } from './record-reader.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  inputName,
  listInputFiles,
  parseRecord,
  readNdjsonBlocks,
  readNdjsonLines,
  readRecords,
} from './record-reader.js';
export type { ParsedReference } from './references.js';
export { parseReference, visitReferences } from './references.js';
export type { SearchParamDef, SearchParamType, SearchRows } from './search-parameters.js';
export { extractSearchRows, SEARCH_PARAMETERS } from './search-parameters.js';
export type { ValidationIssue } from './validator.js';
export { ResourceValidator } from './validator.js';
export type { ValidatorPlan } from './validator-plan.js';
