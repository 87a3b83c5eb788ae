import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultHubDir, openHub } from '../../hub/index.js';
import { formatSummary } from '../../ingest/index.js';
import { openAnalyticTables } from '../../views/index.js';
import type { Io } from '../io.js';
import { ingestProgress } from '../progress.js';

export function ingestCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('ingest')
    .description('Ingest FHIR R4 JSON (resources, Bundles) and NDJSON files or folders, .gz too.')
    .argument('<paths...>', 'files or folders to ingest')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('-s, --source <name>', 'name of the source system (default: the hub config defaultSource)')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh ingest --source seoul-general ./export/*.ndjson.gz ./bundles/\n')
    .action(async (paths: string[], opts: { dir: string; source?: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const progress = ingestProgress(io.err);
        const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
        const summary = await hub.ingest.ingestPaths(paths, {
          source: opts.source ?? hub.config.defaultSource,
          actor: 'cli',
          rejectsPath: join(hub.paths.rejectsDir, `${stamp}.ndjson`),
          batchSize: hub.config.ingest.batchSize,
          maxRecordBytes: hub.config.ingest.maxRecordBytes,
          onProgress: progress.update,
        });
        progress.stop();
        // The analytic tables follow every ingest; only resources whose version changed are flattened again.
        const views = await (await openAnalyticTables(hub)).refresh();
        io.out.write(
          opts.json
            ? `${JSON.stringify({ ...summary, views }, null, 2)}\n`
            : `${formatSummary(summary)}\nanalytic tables refreshed: ${views.resources} resources flattened\n`,
        );
        setCode(summary.totals.rejected > 0 ? 1 : 0);
      } finally {
        await hub.close();
      }
    });
}
