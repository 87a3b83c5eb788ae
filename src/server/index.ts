export type { RouteContext, ServerOptions } from './app.js';
export { buildServer } from './app.js';
export { ExportJobs } from './export-jobs.js';
export { operationOutcome } from './operation-outcome.js';
