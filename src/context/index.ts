/**
 * A hub's context, low in the module stack: config, paths, clock, logger, database, audit log, keys and the
 * after-commit pipeline of derived data. Modules above it are opened with it (`HubModule`); the assembly that
 * opens them all is `hub/`, at the top.
 */
export type { CommitScope, DerivedRefresh, DerivedStep } from './derived-data.js';
export { DerivedData, derivedStateMigrations } from './derived-data.js';
export type { HubContext, HubKeys, HubModule, OpenOptions } from './hub-context.js';
export { openHubContext, readHubConfig } from './hub-context.js';
export type { HubPaths } from './hub-paths.js';
export { defaultHubDir, hubPaths, restrictHubPermissions } from './hub-paths.js';
export type { HubServices, PrivacyServices } from './kernel-modules.js';
export { accessModule, contextModule, privacyModule, storeModule } from './kernel-modules.js';
