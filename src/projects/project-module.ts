import type { HubModule, HubServices } from '../context/index.js';
import { ProjectRegistry } from './project-registry.js';
import { projectMigrations } from './project-schema.js';
import { ProjectUses } from './project-uses.js';

/** The projects module in a hub: its tables, `hub.projects` and what projects ran here (`hub.projectUses`). */
export const projectsModule: HubModule<HubServices, { projects: ProjectRegistry; projectUses: ProjectUses }> = {
  name: 'projects',
  migrations: projectMigrations,
  open: (hub) => ({ projects: new ProjectRegistry(hub), projectUses: new ProjectUses(hub.db, hub.clock) }),
};
