import type { Hub } from '../hub/index.js';
import { migrate } from '../store/index.js';
import { ModelRegistry, modelMigrations } from './model-registry.js';

const prepared = new WeakMap<Hub, Promise<ModelRegistry>>();

/** The model registry of a hub, its table created on first use (the hub's own migrations cannot know this module). */
export function hubModelRegistry(hub: Hub): Promise<ModelRegistry> {
  let p = prepared.get(hub);
  if (p === undefined) {
    p = migrate(hub.db, modelMigrations, hub.clock.now()).then(() => new ModelRegistry(hub.db, hub.clock));
    prepared.set(hub, p);
    p.catch(() => prepared.delete(hub));
  }
  return p;
}
