import type { Command } from 'commander';
import type { AuditCheckpoint, AuditVerification } from '../../access/index.js';
import { defaultHubDir } from '../../hub/index.js';
import { runHubOperation } from '../admin-client.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';

export const auditVerifyOperation: HubOperation<Record<string, never>, AuditVerification> = {
  name: 'audit/verify',
  parse: () => ({}),
  run: (hub) => hub.audit.verify(),
};

export const auditCheckpointOperation: HubOperation<
  Record<string, never>,
  { checkpoint: AuditCheckpoint; written: boolean }
> = {
  name: 'audit/checkpoint',
  parse: () => ({}),
  run: (hub) => hub.audit.checkpoint(),
};

export function auditCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const audit = program.command('audit').description('Inspect the keyed, hash-chained audit log.');
  audit
    .command('verify')
    .description(
      'Recompute the audit chain under the hub audit key and check it against every signed checkpoint; exit 1 if any entry was edited, deleted, reordered or cut off the end, or a checkpoint was removed or altered.',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh audit verify --dir ./gwangju\n')
    .action(async (opts: { dir: string }) => {
      const result = await runHubOperation(opts.dir, auditVerifyOperation, {});
      if (result.ok) {
        io.out.write(`audit log intact: ${result.entries} entries, ${result.checkpoints} signed checkpoints\n`);
        setCode(0);
      } else {
        const at = result.fault?.checkpoint === undefined ? '' : ` (checkpoint ${result.fault.checkpoint})`;
        io.err.write(`AUDIT_CHAIN_BROKEN at entry ${result.fault?.seq}${at}: ${result.fault?.reason}\n`);
        setCode(1);
      }
    });
  audit
    .command('checkpoint')
    .description(
      "Sign a checkpoint of the audit chain's head with the hub's Ed25519 key and append it to <dir>/audit/checkpoints.jsonl, after verifying the entries since the last one.",
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh audit checkpoint --dir ./gwangju\n')
    .action(async (opts: { dir: string }) => {
      const { checkpoint: c, written } = await runHubOperation(opts.dir, auditCheckpointOperation, {});
      io.out.write(
        `${written ? 'checkpoint' : 'already at checkpoint'} ${c.n}: entries 1-${c.seq}, signed by ${c.kid}\n`,
      );
      setCode(0);
    });
}
