#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { exitCodeOf, isHealthmeshError } from '../core/index.js';
import { accountCommand } from './commands/account.js';
import { auditCommand } from './commands/audit.js';
import { clusterCommand } from './commands/cluster.js';
import { cohortCommand } from './commands/cohort.js';
import { identityCommand, peersCommand, protectBareKeys } from './commands/federation.js';
import { forecastCommand } from './commands/forecast.js';
import { ingestCommand } from './commands/ingest.js';
import { initCommand } from './commands/init.js';
import { linkageCommand } from './commands/linkage.js';
import { modelCommand } from './commands/model.js';
import { reportCommand } from './commands/report.js';
import { serveCommand, startCommand } from './commands/serve.js';
import { statsCommand } from './commands/stats.js';
import { synthCommand } from './commands/synth.js';
import { tokenCommand } from './commands/token.js';
import { validationCommand } from './commands/validation.js';
import { viewsCommand } from './commands/views.js';
import type { Io } from './io.js';
import { processIo } from './io.js';

/**
 * Parse and run one command line. Returns the exit code: 0 success, else the error's kind decides (`exitCodeOf`:
 * 1 the caller can fix it, 2 internal fault, 3 a peer or another process is in the way). Commands that serve set
 * `io.keepAlive` and resolve only when the server stops.
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('healthmesh')
    .description('Federated health data hub: ingest FHIR, pseudonymise, audit, serve; synthetic populations for demos.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .showHelpAfterError();
  const setCode = (c: number) => {
    code = c;
  };
  initCommand(program, io, setCode);
  ingestCommand(program, io, setCode);
  serveCommand(program, io, setCode);
  startCommand(program, io, setCode);
  statsCommand(program, io, setCode);
  auditCommand(program, io, setCode);
  synthCommand(program, io, setCode);
  cohortCommand(program, io, setCode);
  forecastCommand(program, io, setCode);
  viewsCommand(program, io, setCode);
  identityCommand(program, io, setCode);
  peersCommand(program, io, setCode);
  linkageCommand(program, io, setCode);
  tokenCommand(program, io, setCode);
  accountCommand(program, io, setCode);
  modelCommand(program, io, setCode);
  reportCommand(program, io, setCode);
  validationCommand(program, io, setCode);
  clusterCommand(program, io, setCode);
  try {
    await program.parseAsync(protectBareKeys(argv), { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    if (isHealthmeshError(e)) {
      io.err.write(`error ${e.code}: ${e.message}\n`);
      // An API client is not told which node failed (store/postgres); the operator at the hub's own CLI is.
      if (e.code === 'STORE_NODE_UNAVAILABLE' && e.cause instanceof Error) io.err.write(`  ${e.cause.message}\n`);
      return exitCodeOf(e.kind);
    }
    io.err.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 2;
  }
}

function isEntryPoint(): boolean {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `healthmesh stats | head`: a reader that stops early is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
