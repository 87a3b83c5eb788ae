import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds each test file took in a recorded run (`project:path`, files of 3 s and more: a CI run's, and the citus
 * project's whole list run alone on a quiet machine), read from the per-file lines of vitest's output. Only the
 * order they give matters, so a stale figure costs minutes of tail, never a result.
 */
const RECORDED: Record<string, number> = JSON.parse(
  readFileSync(new URL('./test-durations.json', import.meta.url), 'utf8'),
) as Record<string, number>;

/**
 * A file the `citus` project has not recorded yet: its `postgres` figure times 1.5, the cluster's cost over one
 * node on the files CI ran on both (cohort-omop 1.4, ingest-synthea 1.3, postgres-parity 1.6).
 */
const CITUS_OVER_POSTGRES = 1.5;
/** A file recorded nowhere (new, or under 3 s). */
const UNKNOWN_SECONDS = 1;

/**
 * Longest files first, across projects: with two workers the run ends when the last long file does, and vitest's
 * own order (project by project, then its cache of durations, which a fresh clone lacks) left one worker running
 * the slow tail of the last project alone. Durations come from this machine's cache when it has them, else from
 * the recorded CI run. Project group orders are kept.
 */
export class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = new Map(files.map((f) => [f, this.estimate(f)]));
    return [...files].sort((a, b) => {
      const group = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (group !== 0) return group;
      return (seconds.get(b) ?? 0) - (seconds.get(a) ?? 0);
    });
  }

  private estimate(spec: TestSpecification): number {
    const path = relative(this.ctx.config.root, spec.moduleId);
    const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`);
    // A file that failed last time runs first, as in vitest's own order: its answer is the one awaited.
    if (cached?.failed) return Number.POSITIVE_INFINITY;
    if (cached) return cached.duration / 1000;
    const recorded = RECORDED[`${spec.project.name}:${path}`];
    if (recorded !== undefined) return recorded;
    const onPostgres = RECORDED[`postgres:${path}`];
    if (spec.project.name === 'citus' && onPostgres !== undefined) return onPostgres * CITUS_OVER_POSTGRES;
    return UNKNOWN_SECONDS;
  }
}
