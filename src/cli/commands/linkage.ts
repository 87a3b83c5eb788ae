import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import { formatLinkageKey, LinkageService } from '../../privacy/index.js';
import type { Io } from '../io.js';
import { hubFiles } from './federation.js';

function writeOwnerOnly(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
}

export function linkageCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const linkage = program
    .command('linkage')
    .description('The linkage service: holds the linkage master key and issues each hub its linkage key.');
  linkage
    .command('init')
    .description('Create a linkage service: a random master key (owner-only) and a log of issued keys.')
    .requiredOption('-d, --dir <dir>', 'linkage service directory (keep it apart from every hub)')
    .addHelpText('after', '\nExample:\n  $ healthmesh linkage init --dir ./linkage-service\n')
    .action(async (opts: { dir: string }) => {
      const service = LinkageService.init(opts.dir);
      io.out.write(`linkage service created in ${service.dir}\n`);
      setCode(0);
    });
  linkage
    .command('issue')
    .description("Issue a hub its linkage key: into the hub's secrets (--hub-dir) or to a file to hand over (--out).")
    .requiredOption('-d, --dir <dir>', 'linkage service directory')
    .option('--hub <name>', 'hub name (default: the name in --hub-dir)')
    .option('--hub-dir <dir>', "install the key into this hub's secrets/linkage.json")
    .option('--out <file>', 'write the key file here instead (owner-only), for a hub on another machine')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh linkage issue --dir ./linkage-service --hub-dir ./gwangju\n  $ healthmesh linkage issue --dir ./linkage-service --hub busan --out busan-linkage.json\n',
    )
    .action(async (opts: { dir: string; hub?: string; hubDir?: string; out?: string }) => {
      const target = opts.hubDir ? hubFiles(opts.hubDir) : undefined;
      const hub = opts.hub ?? target?.name;
      if (hub === undefined || (target && target.name !== hub) || (!opts.hubDir && !opts.out)) {
        throw new HealthmeshError(
          'LINKAGE_INVALID_KEY',
          'name the hub (--hub, matching --hub-dir if both) and where the key goes (--hub-dir or --out)',
        );
      }
      const file = target ? target.paths.linkageKey : opts.out!;
      if (existsSync(file)) {
        throw new HealthmeshError('LINKAGE_INVALID_KEY', `${file} exists already; remove it to issue a new key`, {
          file,
        });
      }
      const key = LinkageService.open(opts.dir).issue(hub, new Date());
      writeOwnerOnly(file, formatLinkageKey(key));
      io.out.write(`linkage key ${key.keyId} issued to ${hub}: ${file}\n`);
      setCode(0);
    });
}
