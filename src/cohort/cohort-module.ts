import type { HubModule } from '../context/index.js';
import { cohortMigrations } from './cohort-schema.js';
import { EVENT_INDEX_VERSION, refreshEventIndex } from './event-index.js';

/**
 * The cohort module in a hub: its tables, and the event index as the step of the after-commit pipeline that
 * follows the analytic tables it is built from (rebuilt only when a refresh changed them).
 */
export const cohortModule: HubModule<object, object> = {
  name: 'cohort',
  migrations: cohortMigrations,
  open(hub) {
    hub.derived.register({
      name: 'cohort-index',
      fingerprint: EVENT_INDEX_VERSION,
      run: async () => ((await refreshEventIndex(hub.db, hub.clock)) ? 1 : 0),
    });
    return {};
  },
};
