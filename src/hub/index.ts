/**
 * The assembly of a hub, at the top of the module stack (under `server/` and `cli/`): opens its context, runs every
 * module's migrations, opens every module from the registry and brings derived data current.
 */
export type { HubPaths, OpenOptions } from '../context/index.js';
export { defaultHubDir, hubPaths, readHubConfig } from '../context/index.js';
export { writeIdentityKey } from '../federation/index.js';
export type { Hub } from './hub.js';
export { ALL_MIGRATIONS, HUB_MODULES, initHub, openHub } from './hub.js';
