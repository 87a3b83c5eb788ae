export type { RouteContext, ServerOptions } from './app.js';
export { buildServer, hubValidation, openHubFederation } from './app.js';
export { ExportJobs } from './export-jobs.js';
export { operationOutcome } from './operation-outcome.js';
export type { RouteDeclaration } from './route-access.js';
export { declaredRoutes } from './route-access.js';
