export type { OutputRecord, OutputStatus, ReleasedOutput } from './output-airlock.js';
export { OutputAirlock } from './output-airlock.js';
export type { OutputCheck, OutputContent } from './output-check.js';
export { checkOutput, differencingGap, outputContent } from './output-check.js';
export type { OutputRequest } from './output-schema.js';
export {
  ForecastParameters,
  MAX_OUTPUT_BYTES,
  MAX_OUTPUT_CELLS,
  OutputDecisionBody,
  OutputRequestBody,
  OutputTable,
  outputMigrations,
} from './output-schema.js';
export { outputsModule } from './outputs-module.js';
