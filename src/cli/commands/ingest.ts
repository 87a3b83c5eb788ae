import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { OmopImportSummary } from '../../cohort/index.js';
import { importOmop } from '../../cohort/index.js';
import { checkSourceName, HealthmeshError } from '../../core/index.js';
import { defaultHubDir } from '../../hub/index.js';
import type { IngestSummary } from '../../ingest/index.js';
import { formatSummary } from '../../ingest/index.js';
import { runHubOperation } from '../admin-client.js';
import { pathTarget } from '../audited-work.js';
import { ingestFromCli } from '../cli-ingest.js';
import type { HubOperation } from '../hub-operation.js';
import type { Io } from '../io.js';
import { inputObject, optionalStringField, stringsField } from '../operation-input.js';
import { ingestProgress } from '../progress.js';

/** Absolute paths: a serving process reads them itself, from its own working directory. */
interface IngestInput {
  paths: string[];
  source?: string;
  omop?: string;
}

interface IngestResult {
  omop?: OmopImportSummary;
  /** Files and folders, when paths were given; `derived` in it is the after-commit pipeline's work. */
  fhir?: IngestSummary;
}

export const ingestOperation: HubOperation<IngestInput, IngestResult> = {
  name: 'ingest',
  parse(input) {
    const o = inputObject(input);
    const paths = stringsField(o, 'paths');
    const source = optionalStringField(o, 'source');
    const omop = optionalStringField(o, 'omop');
    for (const p of [...paths, ...(omop === undefined ? [] : [omop])])
      if (resolve(p) !== p) throw new HealthmeshError('API_BAD_REQUEST', 'ingest paths must be absolute');
    return { paths, ...(source !== undefined && { source }), ...(omop !== undefined && { omop }) };
  },
  async run(hub, { paths, source = hub.config.defaultSource, omop: omopDir }, { actor, onProgress }) {
    const result: IngestResult = {};
    if (omopDir !== undefined) {
      result.omop = await importOmop(hub.db, omopDir, {
        source,
        region: hub.config.name,
        pseudonymiser: hub.pseudonymiser,
        clock: hub.clock,
      });
      await hub.audit.append({
        actor,
        action: 'ingest',
        target: pathTarget(hub, 'omop', omopDir),
        outcome: 'success',
        detail: { source, persons: result.omop.persons },
      });
    }
    if (paths.length > 0) {
      result.fhir = await ingestFromCli(hub, paths, source, { onProgress, actor });
    }
    return result;
  },
};

export function ingestCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  program
    .command('ingest')
    .description(
      'Ingest FHIR R4 JSON (resources, Bundles) and NDJSON files or folders, .gz too; or an OMOP CDM with --omop. While the hub serves, its serving process reads the files.',
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
      // Refused before the hub is opened or asked: a malformed source never reaches the audit log or the hub log.
      if (opts.source !== undefined) checkSourceName(opts.source, '--source');
      const input: IngestInput = {
        paths: paths.map((p) => resolve(p)),
        ...(opts.source !== undefined && { source: opts.source }),
        ...(opts.omop !== undefined && { omop: resolve(opts.omop) }),
      };
      const progress = ingestProgress(io.err);
      let result: IngestResult;
      try {
        result = await runHubOperation(opts.dir, ingestOperation, input, progress.update);
      } finally {
        progress.stop();
      }
      const { omop, fhir } = result;
      if (omop)
        io.out.write(
          opts.json
            ? `${JSON.stringify(omop, null, 2)}\n`
            : `OMOP CDM ${omop.cdmVersion ?? '(version not stated)'}: ${omop.persons} persons, ${Object.entries(
                omop.events,
              )
                .map(([d, n]) => `${n} ${d}`)
                .join(', ')}, ${omop.conceptAncestors} ancestry rows\n`,
        );
      if (!fhir) {
        setCode(0);
        return;
      }
      io.out.write(
        opts.json
          ? `${JSON.stringify(fhir, null, 2)}\n`
          : `${formatSummary(fhir)}\nanalytic tables refreshed: ${fhir.derived?.steps.views ?? 0} resources flattened\n`,
      );
      setCode(fhir.totals.rejected > 0 ? 1 : 0);
    });
}
