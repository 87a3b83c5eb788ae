import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir, initHub, openHub } from '../../hub/index.js';
import { formatSummary } from '../../ingest/index.js';
import { DEMO_PEOPLE, demoRegion, loadDemoPopulation } from '../demo-population.js';
import type { Io } from '../io.js';
import { parsePeople } from '../options.js';

export function initCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('init')
    .description('Create a hub: configuration, pseudonymisation secret, admin token and an empty store.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-n, --name <name>', 'hub name (lower case, e.g. gwangju)', 'hub')
    .option('--demo', "load a synthetic population of the hub's region (gwangju, gyeonggi or busan; else gwangju)")
    .option('--people <n>', 'residents in the demo population', String(DEMO_PEOPLE))
    .option(
      '--store-url <url>',
      'keep the store in this PostgreSQL database (postgres://user@host:port/db) instead of an embedded DuckDB file',
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh init --dir ./gwangju --name gwangju\n  $ healthmesh init --dir ./busan --name busan --demo --people 2000\n  $ healthmesh init --dir ./seoul --name seoul --store-url postgres://healthmesh@db.local:5432/seoul\n',
    )
    .action(async (opts: { dir: string; name: string; demo?: boolean; people: string; storeUrl?: string }) => {
      const people = parsePeople(opts.people);
      const store = opts.storeUrl
        ? { engine: 'postgres' as const, memoryLimit: '1GB', url: checkedStoreUrl(opts.storeUrl) }
        : undefined;
      const { paths } = await initHub(opts.dir, { name: opts.name, ...(store && { config: { store } }) });
      io.out.write(`hub "${opts.name}" created in ${paths.dir}\nadmin token: ${paths.adminToken} (owner-only file)\n`);
      if (opts.demo) {
        const hub = await openHub(opts.dir);
        try {
          const summary = await loadDemoPopulation(hub, io, people);
          io.out.write(`${formatSummary(summary)}\n`);
          io.out.write(`demo population of ${demoRegion(opts.name)} loaded\n`);
          setCode(summary.totals.rejected > 0 ? 1 : 0);
          return;
        } finally {
          await hub.close();
        }
      }
      setCode(0);
    });
}

/** The URL a PostgreSQL hub is created with, checked before anything is written. */
function checkedStoreUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new HealthmeshError('CONFIG_INVALID', '--store-url must be a PostgreSQL URL (postgres://…)', {
      path: 'store.url',
    });
  }
  return url;
}
