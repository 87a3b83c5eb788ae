import type { Command } from 'commander';
import type { Role } from '../../access/index.js';
import { ROLES } from '../../access/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import { audited } from '../audited-work.js';
import type { Io } from '../io.js';

/** `healthmesh token create | list | revoke`: the bearer tokens people and services use on this hub's API. */
export function tokenCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const token = program
    .command('token')
    .description(`Bearer tokens for the API and console; roles: ${ROLES.join(', ')}. Run while the hub is stopped.`);
  token
    .command('create <name>')
    .description(
      'Make a token for a person or service and print it once (only its hash is kept). admin and steward may read row-level records; service may ingest; researcher sees aggregates only.',
    )
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option(
      '--source <name>',
      "a source a service token may write under (repeatable); without it, only the hub's defaultSource",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh token create kim.researcher --role researcher --dir ./gwangju\n  $ healthmesh token create cnuh-feed --role service --source chonnam-uh --dir ./gwangju\n',
    )
    .action(async (name: string, opts: { role: string; source: string[]; dir: string }) => {
      const hub = await openHub(opts.dir);
      try {
        const value = await audited(hub, 'token-create', `token:${name}:${opts.role}`, () =>
          hub.tokens.create(name, opts.role as Role, { sources: opts.source }),
        );
        io.out.write(`${value}\n`);
        io.err.write(`token for ${name} (${opts.role}) created: shown once, keep it safe\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  token
    .command('list')
    .description('List token holders, roles, bound sources and creation times (never the tokens).')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh token list --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const list = await hub.tokens.list();
        if (opts.json) io.out.write(`${JSON.stringify(list)}\n`);
        else
          for (const t of list)
            io.out.write(`${t.name}\t${t.role}\t${t.sources.join(',') || '-'}\t${t.createdAt.toISOString()}\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
  token
    .command('revoke <name>')
    .description('Revoke every token of a holder; the hub refuses them from its next start.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh token revoke kim.researcher --dir ./gwangju\n')
    .action(async (name: string, opts: { dir: string }) => {
      const hub = await openHub(opts.dir);
      try {
        const n = await audited(hub, 'token-revoke', `token:${name}`, () => hub.tokens.revoke(name));
        io.out.write(`${n} token${n === 1 ? '' : 's'} of ${name} revoked\n`);
        setCode(n > 0 ? 0 : 1);
      } finally {
        await hub.close();
      }
    });
}
