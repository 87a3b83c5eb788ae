import type { Command } from 'commander';
import type { HubRole } from '../../core/index.js';
import { HealthmeshError, HUB_ROLE_SERVICES, HUB_ROLES } from '../../core/index.js';
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
    .option(
      '--role <role>',
      `what the hub does: ${HUB_ROLES.map((r) => `${r}${HUB_ROLE_SERVICES[r].length > 0 ? ` (its records, and ${HUB_ROLE_SERVICES[r].join(', ')})` : ' (its records)'}`).join('; ')}`,
      'data',
    )
    .option('--demo', "load a synthetic population of the hub's region (gwangju, gyeonggi or busan; else gwangju)")
    .option('--people <n>', 'residents in the demo population', String(DEMO_PEOPLE))
    .option(
      '--store-url <url>',
      'keep the store in this PostgreSQL database (postgres://user@host:port/db) instead of an embedded DuckDB file',
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh init --dir ./gwangju --name gwangju\n  $ healthmesh init --dir ./gyeonggi --name gyeonggi --role research\n  $ healthmesh init --dir ./busan --name busan --demo --people 2000\n  $ healthmesh init --dir ./seoul --name seoul --store-url postgres://healthmesh@db.local:5432/seoul\n',
    )
    .action(
      async (opts: { dir: string; name: string; role: string; demo?: boolean; people: string; storeUrl?: string }) => {
        const people = parsePeople(opts.people);
        const role = checkedRole(opts.role);
        const store = opts.storeUrl
          ? { engine: 'postgres' as const, memoryLimit: '1GB', url: checkedStoreUrl(opts.storeUrl) }
          : undefined;
        const { paths } = await initHub(opts.dir, { name: opts.name, config: { role, ...(store && { store }) } });
        io.out.write(
          `${role} hub "${opts.name}" created in ${paths.dir}\nadmin token: ${paths.adminToken} (owner-only file)\n`,
        );
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
      },
    );
}

/** The role a hub is created with, checked before anything is written. */
function checkedRole(role: string): HubRole {
  const known = HUB_ROLES.find((r) => r === role);
  if (known === undefined) {
    throw new HealthmeshError('CONFIG_INVALID', `--role must be one of ${HUB_ROLES.join(', ')}`, { path: 'role' });
  }
  return known;
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
