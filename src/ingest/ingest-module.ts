import type { HubModule, HubServices } from '../context/index.js';
import { ResourceValidator } from '../fhir/index.js';
import { LinkageTokeniser, ResourceDeidentifier } from '../privacy/index.js';
import { IngestPipeline } from './ingest-pipeline.js';
import { PreparePool } from './prepare-pool.js';
import { ResourcePreparer } from './resource-preparer.js';

/** The ingest pipeline of a hub: its keys, its store, its audit log and its after-commit pipeline. */
export const ingestModule: HubModule<HubServices, { ingest: IngestPipeline }> = {
  name: 'ingest',
  migrations: [],
  open(hub, options) {
    const { config, keys, paths, audit } = hub;
    const preparer = new ResourcePreparer(
      hub.pseudonymiser,
      new ResourceDeidentifier({ birthDatePrecision: config.privacy.birthDatePrecision }),
      keys.linkageKey ? new LinkageTokeniser(keys.linkageKey) : undefined,
    );
    const parallel = options.parallelIngest;
    const ingest = new IngestPipeline({
      ...(parallel !== false && {
        parallel: {
          workers: parallel?.workers ?? PreparePool.defaultSize(),
          minFileBytes: parallel?.minFileBytes ?? 16 * 1024 * 1024,
          data: {
            secret: new Uint8Array(keys.secret),
            birthDatePrecision: config.privacy.birthDatePrecision,
            ...(keys.linkageKey && { linkageKey: keys.linkageKey }),
          },
          stagingDir: paths.stagingDir,
        },
      }),
      store: hub.store,
      // Compiled on first use, not at open: compiling the R4 definitions costs ~3 s of CPU, and most processes
      // that open a hub (`serve` answering only federated work, `token`, `stats`, ...) never validate a record.
      get validator() {
        return ResourceValidator.r4();
      },
      preparer,
      clock: hub.clock,
      logger: hub.logger,
      pathLabel: (path) => hub.pseudonymiser.pathLabel(path),
      audit: async (e, tx) => {
        await audit.append(e, tx);
      },
      derived: hub.derived,
    });
    return { ingest };
  },
};
