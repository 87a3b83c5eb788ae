import type { Hub } from '../hub/index.js';
import { migrate } from '../store/index.js';
import { openAnalyticTables } from '../views/index.js';
import { cohortMigrations } from './cohort-schema.js';
import { refreshEventIndex } from './event-index.js';

const prepared = new WeakMap<Hub, Promise<void>>();

/** The cohort tables of a hub, created on first use (the hub's own migrations cannot know this module). */
export function prepareCohorts(hub: Hub): Promise<void> {
  let p = prepared.get(hub);
  if (p === undefined) {
    p = migrate(hub.db, cohortMigrations, hub.clock.now()).then(() => undefined);
    prepared.set(hub, p);
    p.catch(() => prepared.delete(hub));
  }
  return p;
}

/** Brings the analytic tables and the event index up to date with the resource store. */
export async function refreshCohortIndex(hub: Hub): Promise<void> {
  await prepareCohorts(hub);
  await (await openAnalyticTables(hub)).refresh();
  await refreshEventIndex(hub.db, hub.clock);
}
