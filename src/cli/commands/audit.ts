import type { Command } from 'commander';
import { defaultHubDir, openHub } from '../../hub/index.js';
import type { Io } from '../io.js';

export function auditCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const audit = program.command('audit').description('Inspect the hash-chained audit log.');
  audit
    .command('verify')
    .description('Recompute the audit chain; exit 1 if any entry was edited, deleted or reordered.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh audit verify --dir ./gwangju\n')
    .action(async (opts: { dir: string }) => {
      const hub = await openHub(opts.dir);
      try {
        const result = await hub.audit.verify();
        if (result.ok) {
          io.out.write(`audit log intact: ${result.entries} entries\n`);
          setCode(0);
        } else {
          io.err.write(`AUDIT_CHAIN_BROKEN at entry ${result.fault?.seq}: ${result.fault?.reason}\n`);
          setCode(1);
        }
      } finally {
        await hub.close();
      }
    });
}
