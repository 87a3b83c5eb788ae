import type { HubModule, HubServices } from '../context/index.js';
import { ProjectRegistry } from './project-registry.js';
import { projectMigrations } from './project-schema.js';

/** The projects module in a hub: its tables, and `hub.projects`. */
export const projectsModule: HubModule<HubServices, { projects: ProjectRegistry }> = {
  name: 'projects',
  migrations: projectMigrations,
  open: (hub) => ({ projects: new ProjectRegistry(hub) }),
};
