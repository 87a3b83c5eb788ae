import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Hub } from '../../hub/index.js';
import { defaultHubDir, hubPaths, initHub, openHub } from '../../hub/index.js';
import { formatSummary } from '../../ingest/index.js';
import { buildServer } from '../../server/index.js';
import { openAnalyticTables } from '../../views/index.js';
import type { Io } from '../io.js';
import { sampleDataPaths } from '../sample-data.js';

interface ServeOptions {
  dir: string;
  port?: string;
  host?: string;
}

async function serve(hub: Hub, opts: ServeOptions, io: Io): Promise<void> {
  const port = opts.port !== undefined ? Number(opts.port) : hub.config.server.port;
  const host = opts.host ?? hub.config.server.host;
  const app = await buildServer(hub);
  const address = await app.listen({ port, host });
  io.out.write(`healthmesh hub "${hub.config.name}" serving FHIR R4 at ${address}/fhir\n`);
  io.out.write(`admin token: ${hub.paths.adminToken}\n`);
  io.out.write(`try: curl -H "Authorization: Bearer $(cat ${hub.paths.adminToken})" ${address}/fhir/metadata\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void app.close().then(() => resolve());
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function serveCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('serve')
    .description('Serve the hub over HTTP: FHIR R4 REST API with bulk $export.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-p, --port <port>', 'port (default: hub config, 8080)')
    .option('--host <host>', 'interface to bind (default: hub config, 127.0.0.1)')
    .addHelpText('after', '\nExample:\n  $ healthmesh serve --dir ./gwangju --port 8081\n')
    .action(async (opts: ServeOptions) => {
      const hub = await openHub(opts.dir);
      try {
        await serve(hub, opts, io);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}

export function startCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('start')
    .description('The demo in one command: init a hub if there is none, load sample data if it is empty, serve.')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-p, --port <port>', 'port (default: hub config, 8080)')
    .option('--host <host>', 'interface to bind')
    .addHelpText('after', '\nExample:\n  $ npm start            # same as: healthmesh start --dir ./.healthmesh\n')
    .action(async (opts: ServeOptions) => {
      if (!existsSync(hubPaths(opts.dir).config)) {
        const { paths } = await initHub(opts.dir, { name: 'demo' });
        io.out.write(`created hub in ${paths.dir}\n`);
      }
      const hub = await openHub(opts.dir);
      try {
        const counts = await hub.store.countByType();
        if (Object.keys(counts).length === 0) {
          const sample = sampleDataPaths();
          io.out.write(`loading sample data from ${sample.description}...\n`);
          const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
          const summary = await hub.ingest.ingestPaths(sample.paths, {
            source: 'sample',
            actor: 'cli',
            rejectsPath: join(hub.paths.rejectsDir, `${stamp}.ndjson`),
          });
          io.out.write(`${formatSummary(summary)}\n`);
          await (await openAnalyticTables(hub)).refresh();
        }
        await serve(hub, opts, io);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}
