import type { HubModule, HubServices } from '../context/index.js';
import { ModelRegistry, modelMigrations } from './model-registry.js';

/** The models module in a hub: its tables (registry, GLM rounds) are made when the hub opens. */
export const modelsModule: HubModule<object, object> = {
  name: 'models',
  migrations: modelMigrations,
  open: () => ({}),
};

/** The model registry of a hub (its tables exist: every module's migrations run when the hub opens). */
export async function hubModelRegistry(hub: Pick<HubServices, 'db' | 'clock'>): Promise<ModelRegistry> {
  return new ModelRegistry(hub.db, hub.clock);
}
