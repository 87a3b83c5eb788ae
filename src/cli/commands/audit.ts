import type { Command } from 'commander';
import type { AuditVerification } from '../../access/index.js';
import { defaultHubDir } from '../../hub/index.js';
import { runHubOperation } from '../admin-client.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';

export const auditVerifyOperation: HubOperation<Record<string, never>, AuditVerification> = {
  name: 'audit/verify',
  parse: () => ({}),
  run: (hub) => hub.audit.verify(),
};

export function auditCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const audit = program.command('audit').description('Inspect the hash-chained audit log.');
  audit
    .command('verify')
    .description('Recompute the audit chain; exit 1 if any entry was edited, deleted or reordered.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh audit verify --dir ./gwangju\n')
    .action(async (opts: { dir: string }) => {
      const result = await runHubOperation(opts.dir, auditVerifyOperation, {});
      if (result.ok) {
        io.out.write(`audit log intact: ${result.entries} entries\n`);
        setCode(0);
      } else {
        io.err.write(`AUDIT_CHAIN_BROKEN at entry ${result.fault?.seq}: ${result.fault?.reason}\n`);
        setCode(1);
      }
    });
}
