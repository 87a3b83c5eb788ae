import type { Command } from 'commander';
import { importOmop } from '../../cohort/index.js';
import { checkSourceName, HealthmeshError } from '../../core/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import { formatSummary } from '../../ingest/index.js';
import { pathTarget } from '../audited-work.js';
import { ingestFromCli } from '../cli-ingest.js';
import type { Io } from '../io.js';

export function ingestCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('ingest')
    .description(
      'Ingest FHIR R4 JSON (resources, Bundles) and NDJSON files or folders, .gz too; or an OMOP CDM with --omop.',
    )
    .argument('[paths...]', 'files or folders to ingest')
    .option('--omop <folder>', 'load an OMOP CDM v5.3/v5.4 (CSV, .csv.gz too) into the cohort event index')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option(
      '-s, --source <name>',
      'name of the source system: lower-case letters, digits, . _ - (default: the hub config defaultSource)',
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ healthmesh ingest --source seoul-general ./export/*.ndjson.gz ./bundles/\n  $ healthmesh ingest --source cnuh-cdm --omop ./cdm-export/\n',
    )
    .action(async (paths: string[], opts: { dir: string; source?: string; json?: boolean; omop?: string }) => {
      if (opts.omop === undefined && paths.length === 0) {
        throw new HealthmeshError(
          'INGEST_UNREADABLE',
          'name files or folders to ingest, or an OMOP CDM folder with --omop',
          { path: 'paths' },
        );
      }
      // Refused before the hub is opened: a malformed source never reaches the audit log or the hub log.
      if (opts.source !== undefined) checkSourceName(opts.source, '--source');
      const hub = await openHub(opts.dir);
      try {
        if (opts.omop !== undefined) {
          const source = opts.source ?? hub.config.defaultSource;
          const omop = await importOmop(hub.db, opts.omop, {
            source,
            region: hub.config.name,
            pseudonymiser: hub.pseudonymiser,
            clock: hub.clock,
          });
          await hub.audit.append({
            actor: 'cli',
            action: 'ingest',
            target: pathTarget(hub, 'omop', opts.omop),
            outcome: 'success',
            detail: { source, persons: omop.persons },
          });
          io.out.write(
            opts.json
              ? `${JSON.stringify(omop, null, 2)}\n`
              : `OMOP CDM ${omop.cdmVersion ?? '(version not stated)'}: ${omop.persons} persons, ${Object.entries(
                  omop.events,
                )
                  .map(([d, n]) => `${n} ${d}`)
                  .join(', ')}, ${omop.conceptAncestors} ancestry rows\n`,
          );
          if (paths.length === 0) {
            setCode(0);
            return;
          }
        }
        const summary = await ingestFromCli(hub, paths, opts.source ?? hub.config.defaultSource, io);
        io.out.write(
          opts.json
            ? `${JSON.stringify(summary, null, 2)}\n`
            : `${formatSummary(summary)}\nanalytic tables refreshed: ${summary.derived?.steps.views ?? 0} resources flattened\n`,
        );
        setCode(summary.totals.rejected > 0 ? 1 : 0);
      } finally {
        await hub.close();
      }
    });
}
