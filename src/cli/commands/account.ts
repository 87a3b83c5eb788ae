import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Role } from '../../access/index.js';
import { ROLES } from '../../access/index.js';
import type { Account, AccountChanges } from '../../accounts/index.js';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir } from '../../hub/index.js';
import { runHubOperation } from '../admin-client.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';
import { inputObject, optionalStringField, stringField } from '../operation-input.js';

export const accountCreate: HubOperation<
  { handle: string; role: string; signInName: string | undefined; password: string },
  Account
> = {
  name: 'account/create',
  parse(input) {
    const o = inputObject(input);
    return {
      handle: stringField(o, 'handle'),
      role: stringField(o, 'role'),
      signInName: optionalStringField(o, 'signInName'),
      password: stringField(o, 'password'),
    };
  },
  // The accounts module checks the handle, role and password and writes the audit entry (never the password).
  run: (hub, { handle, role, signInName, password }, { actor }) =>
    hub.accounts.create(actor, {
      handle,
      role: role as Role,
      password,
      ...(signInName !== undefined && { signInName }),
    }),
};

export const accountList: HubOperation<Record<string, never>, Account[]> = {
  name: 'account/list',
  parse: () => ({}),
  run: (hub) => hub.accounts.registry.list(),
};

export const accountUpdate: HubOperation<{ account: string; changes: AccountChanges }, Account> = {
  name: 'account/update',
  parse(input) {
    const o = inputObject(input);
    const c = inputObject(o.changes);
    const changes: AccountChanges = {};
    if (c.role !== undefined) changes.role = stringField(c, 'role') as Role;
    if (c.status !== undefined) changes.status = stringField(c, 'status') as AccountChanges['status'];
    if (c.password !== undefined) changes.password = stringField(c, 'password');
    if (c.unlock === true) changes.unlock = true;
    return { account: stringField(o, 'account'), changes };
  },
  run: (hub, { account, changes }, { actor }) => hub.accounts.update(actor, account, changes),
};

/** A password read from the first line of a file (never from the command line, which other users' `ps` can see). */
function passwordFrom(file: string | undefined): { password: string; generated: boolean } {
  if (file === undefined) return { password: randomBytes(18).toString('base64url'), generated: true };
  const password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  if (password === '')
    throw new HealthmeshError('ACCOUNT_INVALID', 'the password file is empty', { path: 'password-file' });
  return { password, generated: false };
}

/** `healthmesh account ...`: people's and machines' accounts, live while the hub serves (through its admin socket). */
export function accountCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const account = program
    .command('account')
    .description(
      `Accounts people sign in with (password or the hospital's OpenID Provider); roles: ${ROLES.join(', ')}. While the hub serves, its serving process does the work: a change holds from the holder's next request.`,
    );
  const dirOption = (c: Command) => c.option('-d, --dir <dir>', 'hub data directory', defaultHubDir());
  const update = async (dir: string, who: string, changes: AccountChanges, done: string) => {
    const a = await runHubOperation(dir, accountUpdate, { account: who, changes });
    io.out.write(`${a.handle}: ${done}\n`);
    setCode(0);
  };

  dirOption(
    account
      .command('create <handle>')
      .description(
        'Make a local account. The handle is shown in audit and the console (an identifier, not an email); the sign-in name (default: the handle) is kept only as a keyed hash. Without --password-file a password is generated and printed once.',
      )
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
      .option('--sign-in-name <name>', 'what the person types to sign in, e.g. their hospital email')
      .option('--password-file <file>', 'read the password from the first line of this file'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh account create kim.researcher --role researcher --sign-in-name kim@cnuh.example.kr --dir ./gwangju\n',
    )
    .action(async (handle: string, opts: { role: string; signInName?: string; passwordFile?: string; dir: string }) => {
      const { password, generated } = passwordFrom(opts.passwordFile);
      const a = await runHubOperation(opts.dir, accountCreate, {
        handle,
        role: opts.role,
        password,
        ...(opts.signInName !== undefined && { signInName: opts.signInName }),
      });
      if (generated) io.out.write(`${password}\n`);
      io.err.write(
        `account ${a.handle} (${a.role}) created${generated ? ': its password is shown once, keep it safe' : ''}\n`,
      );
      setCode(0);
    });
  dirOption(account.command('list').description('List accounts: handle, role, status, lock (never sign-in names).'))
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh account list --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const list = await runHubOperation(opts.dir, accountList, {});
      if (opts.json) io.out.write(`${JSON.stringify(list)}\n`);
      else
        for (const a of list)
          io.out.write(
            `${a.handle}\t${a.role}\t${a.status}${a.lockedUntil ? `\tlocked until ${a.lockedUntil}` : ''}\t${a.oidc ? 'oidc' : 'password'}\n`,
          );
      setCode(0);
    });
  dirOption(account.command('set-role <handle> <role>').description("Change an account's role."))
    .addHelpText('after', '\nExample:\n  $ healthmesh account set-role kim.researcher steward --dir ./gwangju\n')
    .action((handle: string, role: string, opts: { dir: string }) =>
      update(opts.dir, handle, { role: role as Role }, `role ${role}`),
    );
  dirOption(account.command('disable <handle>').description('Disable an account: its sessions end at once.'))
    .addHelpText('after', '\nExample:\n  $ healthmesh account disable kim.researcher --dir ./gwangju\n')
    .action((handle: string, opts: { dir: string }) => update(opts.dir, handle, { status: 'disabled' }, 'disabled'));
  dirOption(account.command('enable <handle>').description('Enable a disabled account.'))
    .addHelpText('after', '\nExample:\n  $ healthmesh account enable kim.researcher --dir ./gwangju\n')
    .action((handle: string, opts: { dir: string }) => update(opts.dir, handle, { status: 'active' }, 'enabled'));
  dirOption(account.command('unlock <handle>').description('End a lockout after repeated failed sign-ins.'))
    .addHelpText('after', '\nExample:\n  $ healthmesh account unlock kim.researcher --dir ./gwangju\n')
    .action((handle: string, opts: { dir: string }) => update(opts.dir, handle, { unlock: true }, 'unlocked'));
  dirOption(
    account
      .command('password <handle>')
      .description(
        "Reset an account's password (its sessions end); without --password-file one is generated and printed once.",
      )
      .option('--password-file <file>', 'read the password from the first line of this file'),
  )
    .addHelpText('after', '\nExample:\n  $ healthmesh account password kim.researcher --dir ./gwangju\n')
    .action(async (handle: string, opts: { dir: string; passwordFile?: string }) => {
      const { password, generated } = passwordFrom(opts.passwordFile);
      const a = await runHubOperation(opts.dir, accountUpdate, { account: handle, changes: { password } });
      if (generated) io.out.write(`${password}\n`);
      io.err.write(`password of ${a.handle} reset; its sessions ended\n`);
      setCode(0);
    });
}
