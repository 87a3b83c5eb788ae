import type { HubModule, PrivacyServices } from '../context/index.js';
import { OutputAirlock } from './output-airlock.js';
import { outputMigrations } from './output-schema.js';

/** The output airlock of a hub's project workspaces: its table is made when the hub opens. */
export const outputsModule: HubModule<Pick<PrivacyServices, 'gate'>, { outputs: OutputAirlock }> = {
  name: 'outputs',
  migrations: outputMigrations,
  open: (hub) => ({ outputs: new OutputAirlock(hub.db, hub.gate, hub.audit, hub.clock) }),
};
