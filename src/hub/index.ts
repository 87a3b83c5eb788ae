export type { Hub, OpenOptions } from './hub.js';
export { ALL_MIGRATIONS, initHub, openHub, readHubConfig, writeIdentityKey } from './hub.js';
export type { HubPaths } from './hub-paths.js';
export { defaultHubDir, hubPaths } from './hub-paths.js';
