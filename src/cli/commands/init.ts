import type { Command } from 'commander';
import { defaultHubDir, initHub } from '../../hub/index.js';
import type { Io } from '../io.js';

export function initCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('init')
    .description('Create a hub: configuration, pseudonymisation secret, admin token and an empty store.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-n, --name <name>', 'hub name (lower case, e.g. gwangju)', 'hub')
    .addHelpText('after', '\nExample:\n  $ healthmesh init --dir ./gwangju --name gwangju\n')
    .action(async (opts: { dir: string; name: string }) => {
      const { paths } = await initHub(opts.dir, { name: opts.name });
      io.out.write(`hub "${opts.name}" created in ${paths.dir}\nadmin token: ${paths.adminToken} (owner-only file)\n`);
      setCode(0);
    });
}
