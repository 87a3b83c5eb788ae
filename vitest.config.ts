import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { DurationSequencer } from './test/support/duration-sequencer.js';

/**
 * Tests that touch a store run on both engines: the `duckdb` project runs every test, the `postgres` project runs
 * these again with HEALTHMESH_TEST_ENGINE=postgres against a throwaway cluster (test/support/postgres-setup.ts).
 */
const ENGINE_LOOPED = [
  'src/store/**/*.test.ts',
  'src/privacy/**/*.test.ts',
  'src/models/model-registry.test.ts',
  'src/views/analytic-tables.test.ts',
  'test/engine-*.test.ts',
  'test/ingest-*.test.ts',
  'test/parallel-ingest.test.ts',
  'test/synth-ingest.test.ts',
  'test/views-synthea.test.ts',
  'test/sql-on-fhir-conformance.test.ts',
  'test/cohort-*.test.ts',
  'test/models-hub.test.ts',
  'test/consent.test.ts',
  'test/linkage.test.ts',
  'test/access-roles.test.ts',
  'test/authorization-matrix.test.ts',
  'test/audit-*.test.ts',
  'test/surveillance-synthetic.test.ts',
  'test/fhir-api.test.ts',
  'test/models-api.test.ts',
];

/**
 * The `citus` project, on a Citus coordinator with two workers (test/support/citus-setup.ts): every engine-looped
 * test a third time, plus engine parity, a federation test and `test/citus-*.test.ts`. `HEALTHMESH_CITUS_TESTS=short`
 * runs a short list instead (GiBleed counts, SQL-on-FHIR results, Synthea counts, parity, federation, the cluster's
 * own tests) for a quicker local run.
 */
const CITUS_EXTRA = ['test/postgres-parity.test.ts', 'test/federated-cohort.test.ts', 'test/citus-*.test.ts'];
const CITUS_SUBSET = [
  'test/cohort-omop.test.ts',
  'test/sql-on-fhir-conformance.test.ts',
  'test/ingest-synthea.test.ts',
  ...CITUS_EXTRA,
];

const hasPostgres = existsSync('/usr/lib/postgresql');
// The vendored Citus build sits beside the repository (../shared/vendor); a fresh clone has none. It was built for
// PostgreSQL 15.20 and fails to load into older minors, and unpacking it needs root: outside CI a machine that cannot
// run it skips the project with the reason (CI's .ci/run upgrades PostgreSQL and unpacks the build itself).
const citusInstalled = existsSync('/usr/lib/postgresql/15/lib/citus.so');
const citusArchive = existsSync(new URL('../shared/vendor/citus-13.2.2-pg15-amd64.tar.gz', import.meta.url));
function postgresMinor(): number {
  try {
    const version = execFileSync('/usr/lib/postgresql/15/bin/postgres', ['--version'], { encoding: 'utf8' });
    return Number(/ 15\.(\d+)/.exec(version)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
function citusSkipReason(): string | null {
  if (!citusInstalled && !citusArchive) return 'no Citus build (../shared/vendor/citus-13.2.2-pg15-amd64.tar.gz)';
  if (postgresMinor() < 20) return 'the Citus build needs PostgreSQL 15.20 or later (apt-get install postgresql-15)';
  if (!citusInstalled && process.getuid?.() !== 0) return 'Citus is not unpacked (run .ci/run as root once)';
  return null;
}
const citusSkip = hasPostgres && process.env.CI !== 'true' ? citusSkipReason() : null;
const hasCitus = hasPostgres && (process.env.CI === 'true' ? citusInstalled || citusArchive : citusSkip === null);
if (citusSkip !== null) console.warn(`NOTICE: skipping the Citus tests: ${citusSkip}.`);
if (!hasPostgres && process.env.CI !== 'true') {
  console.warn('NOTICE: skipping the PostgreSQL engine tests: no PostgreSQL binaries (apt-get install postgresql-15).');
}

/**
 * `isolate: false`: a worker keeps its loaded modules from one test file to the next of the same project instead of
 * starting a fresh process per file. Loading the source tree (DuckDB's and onnxruntime's bindings, Fastify, the
 * modules) cost about a second of CPU per file, 285 s of a CI run's 2,480 s of test time; on 39 unit files it took
 * the run from 134 to 76 CPU-seconds. Tests share no module state that matters: the module-level variables in src/
 * are lazy loads and memos, every hub, server and database a test opens is its own, and no test writes process.env.
 */
const shared = { testTimeout: 60_000, hookTimeout: 120_000, pool: 'forks' as const, isolate: false };

export default defineConfig({
  test: {
    reporters: ['default'],
    // Two test files at a time on CI's two cores: most files wait on child processes, servers, PostgreSQL or
    // chromium much of the time, and one at a time (vitest's default of cores − 1) took 24 of CI's 30 minutes.
    maxWorkers: 2,
    // Longest files first across the three projects, from the last CI run's durations (duration-sequencer.ts).
    sequence: { sequencer: DurationSequencer },
    projects: [
      {
        test: {
          ...shared,
          name: 'duckdb',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/postgres-*.test.ts', 'test/citus-*.test.ts', '**/node_modules/**'],
          // Builds web/dist when a console source is newer than it (the browser tests load the built console).
          globalSetup: ['test/support/console-build.ts'],
        },
      },
      // On CI a missing PostgreSQL fails the run (the project's setup finds no binaries) instead of skipping.
      ...(hasPostgres || process.env.CI === 'true'
        ? [
            {
              test: {
                ...shared,
                name: 'postgres',
                include: [...ENGINE_LOOPED, 'test/postgres-*.test.ts'],
                env: { HEALTHMESH_TEST_ENGINE: 'postgres' },
                globalSetup: ['test/support/postgres-setup.ts'],
              },
            },
          ]
        : []),
      // On CI a missing Citus build fails the run (citus-setup finds nothing to install) instead of skipping.
      ...(hasCitus || process.env.CI === 'true'
        ? [
            {
              test: {
                ...shared,
                name: 'citus',
                include:
                  process.env.HEALTHMESH_CITUS_TESTS !== 'short' ? [...ENGINE_LOOPED, ...CITUS_EXTRA] : CITUS_SUBSET,
                env: { HEALTHMESH_TEST_ENGINE: 'citus' },
                globalSetup: ['test/support/citus-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
