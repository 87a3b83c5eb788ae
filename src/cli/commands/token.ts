import type { Command } from 'commander';
import type { Role } from '../../access/index.js';
import { ROLES } from '../../access/index.js';
import { defaultHubDir } from '../../hub/index.js';
import { runHubOperation } from '../admin-client.js';
import { audited } from '../audited-work.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';
import { inputObject, stringField, stringsField } from '../operation-input.js';

/** A token holder as `token list` shows it (the tokens themselves are never kept). */
export interface TokenListing {
  name: string;
  role: Role;
  sources: string[];
  createdAt: string;
}

export const tokenCreate: HubOperation<{ name: string; role: string; sources: string[] }, { token: string }> = {
  name: 'token/create',
  parse(input) {
    const o = inputObject(input);
    return { name: stringField(o, 'name'), role: stringField(o, 'role'), sources: stringsField(o, 'sources') };
  },
  async run(hub, { name, role, sources }, { actor }) {
    // The registry checks the role, the sources and the name.
    const token = await audited(
      hub,
      'token-create',
      `token:${name}:${role}`,
      () => hub.tokens.create(name, role as Role, { sources }),
      actor,
    );
    return { token };
  },
};

export const tokenList: HubOperation<Record<string, never>, TokenListing[]> = {
  name: 'token/list',
  parse: () => ({}),
  async run(hub) {
    return (await hub.tokens.list()).map((t) => ({ ...t, createdAt: t.createdAt.toISOString() }));
  },
};

export const tokenRevoke: HubOperation<{ name: string }, { revoked: number }> = {
  name: 'token/revoke',
  parse: (input) => ({ name: stringField(inputObject(input), 'name') }),
  async run(hub, { name }, { actor }) {
    const revoked = await audited(hub, 'token-revoke', `token:${name}`, () => hub.tokens.revoke(name), actor);
    return { revoked };
  },
};

/** `healthmesh token create | list | revoke`: the bearer tokens people and services use on this hub's API. */
export function tokenCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const token = program
    .command('token')
    .description(
      `Bearer tokens for the API and console; roles: ${ROLES.join(', ')}. While the hub serves, its serving process does the work (a revoked token is refused at once).`,
    );
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
      const { token: value } = await runHubOperation(opts.dir, tokenCreate, {
        name,
        role: opts.role,
        sources: opts.source,
      });
      io.out.write(`${value}\n`);
      io.err.write(`token for ${name} (${opts.role}) created: shown once, keep it safe\n`);
      setCode(0);
    });
  token
    .command('list')
    .description('List token holders, roles, bound sources and creation times (never the tokens).')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh token list --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const list = await runHubOperation(opts.dir, tokenList, {});
      if (opts.json) io.out.write(`${JSON.stringify(list)}\n`);
      else for (const t of list) io.out.write(`${t.name}\t${t.role}\t${t.sources.join(',') || '-'}\t${t.createdAt}\n`);
      setCode(0);
    });
  token
    .command('revoke <name>')
    .description('Revoke every token of a holder; a serving hub refuses them from the next request.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh token revoke kim.researcher --dir ./gwangju\n')
    .action(async (name: string, opts: { dir: string }) => {
      const { revoked: n } = await runHubOperation(opts.dir, tokenRevoke, { name });
      io.out.write(`${n} token${n === 1 ? '' : 's'} of ${name} revoked\n`);
      setCode(n > 0 ? 0 : 1);
    });
}
