import type { HubModule } from '../context/index.js';
import { AnalyticTables } from './analytic-tables.js';
import { viewMigrations } from './table-schema.js';

/**
 * The hub's analytic tables, with `%region` bound to the hub's configured name. They are the first step of the
 * after-commit pipeline: a write flattens what it changed (only those ids when it names them), and no reader does.
 */
export const viewsModule: HubModule<object, { tables: AnalyticTables }> = {
  name: 'views',
  migrations: viewMigrations,
  open(hub) {
    // Staged rows are row-level data: they stay under the hub's own directory, like the store itself.
    const tables = AnalyticTables.over(hub.db, {
      region: hub.config.name,
      clock: hub.clock,
      stagingDir: hub.paths.stagingDir,
    });
    hub.derived.register({
      name: 'views',
      fingerprint: tables.fingerprint,
      run: async (scope) => (await tables.refresh(scope.ids ? { ids: scope.ids } : {})).resources,
    });
    return { tables };
  },
};
