import type { Command } from 'commander';
import { omopHoldings } from '../../cohort/index.js';
import { defaultHubDir } from '../../hub/index.js';
import { runHubOperation } from '../admin-client.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';

/** What `healthmesh stats` reports. */
export interface HubStats {
  hub: string;
  role: string;
  resources: number;
  versions: number;
  patients: number;
  auditEntries: number;
  byType: Record<string, number>;
  /** OMOP CDMs loaded with `ingest --omop`: they live in the event index, not among the FHIR resources. */
  omop: { source: string; persons: number; tables: Record<string, number> }[];
}

export const statsOperation: HubOperation<Record<string, never>, HubStats> = {
  name: 'stats',
  parse: () => ({}),
  async run(hub) {
    const byType = await hub.store.countByType();
    const versions = await hub.store.countVersions();
    const auditEntries = await hub.audit.count();
    const omop = (await omopHoldings(hub.db)).map((o) => ({
      source: o.source,
      persons: o.persons,
      tables: Object.fromEntries(o.tables.map((t) => [t.table, t.rows])),
    }));
    return {
      hub: hub.config.name,
      role: hub.config.role,
      resources: Object.values(byType).reduce((a, b) => a + b, 0),
      versions,
      patients: byType.Patient ?? 0,
      auditEntries,
      byType,
      omop,
    };
  },
};

export function statsCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('stats')
    .description(
      'Show what the hub holds: resources per type, versions, patients, audit entries, and loaded OMOP CDMs per table.',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh stats --json\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const stats = await runHubOperation(opts.dir, statsOperation, {});
      if (opts.json) io.out.write(`${JSON.stringify(stats, null, 2)}\n`);
      else {
        io.out.write(
          `hub ${stats.hub} (${stats.role}): ${stats.resources} resources, ${stats.versions} versions, ${stats.patients} patients, ${stats.auditEntries} audit entries\n`,
        );
        for (const [type, n] of Object.entries(stats.byType))
          io.out.write(`  ${type.padEnd(28)} ${String(n).padStart(9)}\n`);
        for (const o of stats.omop) {
          io.out.write(`OMOP CDM ${o.source}: ${o.persons} persons\n`);
          for (const [table, n] of Object.entries(o.tables))
            io.out.write(`  ${table.padEnd(28)} ${String(n).padStart(9)}\n`);
        }
      }
      setCode(0);
    });
}
