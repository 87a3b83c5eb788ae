import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangedQuery, Database, ResourceStore, StageColumns } from '../store/index.js';
import { FlattenPool, type FlattenWorkerData } from './flatten-pool.js';
import type { MaterialisedView } from './materialised-view.js';
import type { FlattenOutput } from './staged-flatten.js';
import { SOURCE_COLUMN, shardSource } from './table-schema.js';

/**
 * About this much exported text per file: ~10k resources of the Synthea sample, so a type of 200k resources is
 * split into enough tasks to keep every worker busy.
 */
const EXPORT_FILE_BYTES = 8 * 1024 * 1024;
/**
 * A group's `view_source` rows: `mask` has one character per view of the group, '1' where it flattened; `shard_key`
 * is the resource's, as the store exported it.
 */
const SOURCE_STAGE: StageColumns = [
  ['id', 'VARCHAR'],
  ['version', 'INTEGER'],
  ['mask', 'VARCHAR'],
  ['shard_key', 'VARCHAR'],
];
const ID_STAGE: StageColumns = [['id', 'VARCHAR']];
/**
 * Resources whose rows commit together, at least: past DuckDB's row group (122,880 rows) an insert writes whole
 * groups straight to the database file, where commits of 10k-resource batches spent longer writing the WAL and
 * checkpointing it than inserting (measured); the first part of a large type loads while the rest is flattened.
 * A type is cut into equal batches (`loadBoundaries`), so no small remainder goes the WAL way at the very end
 * (97k Observations: a 1.5 s commit and checkpoint, alone on the critical path). The margin over a row group
 * covers the granularity of exported files (~10k resources each).
 */
const LOAD_BATCH = 135_000;

/**
 * Where the loads of a type of `count` resources end, as cumulative counts: equal batches of at least LOAD_BATCH
 * (one batch when the type is smaller).
 */
export function loadBoundaries(count: number): number[] {
  const n = Math.max(1, Math.floor(count / LOAD_BATCH));
  return Array.from({ length: n }, (_, j) => Math.round(((j + 1) * count) / n));
}

/** One type's stale resources: those the store finds `changed` for the group's views (one reader each, in order). */
export interface StalePlan {
  type: string;
  group: readonly MaterialisedView[];
  changed: ChangedQuery;
  count: number;
}

interface TypeRun {
  plan: StalePlan;
  files: string[];
  outputs: Promise<FlattenOutput>[];
}

/**
 * The parallel path of a large refresh (docs/architecture.md, "As built" for views). The store writes each stale
 * resource as one JSON line to files with its own threads; worker threads parse and flatten them and write the
 * rows in the staging text format; the store loads those files with its bulk reader. The main thread touches
 * neither bodies nor values. Types form a pipeline: the next type is exported while the workers flatten this
 * one, and a type is loaded while the workers go on with the next.
 */
export class StagedRefresh {
  private pool: Promise<FlattenPool> | undefined;
  private dir: string | undefined;

  constructor(
    private readonly db: Database,
    private readonly store: ResourceStore,
    private readonly workers: FlattenWorkerData,
    private readonly stagingRoot: string | undefined,
  ) {}

  /** Start the workers (about a second under tsx) so they are ready when the first export is. */
  start(): void {
    this.pool ??= FlattenPool.start(FlattenPool.defaultSize(), this.workers);
    // A failed start is reported by the refresh that awaits the pool.
    this.pool.catch(() => undefined);
  }

  /** Flatten the stale resources of every plan; returns how many were read. */
  async refreshTypes(
    plans: readonly StalePlan[],
    flattened: (view: MaterialisedView, n: number) => void,
    progress: (n: number) => void,
  ): Promise<number> {
    this.start();
    const dir = this.runDir();
    // Exports run one after another on the reader while the workers take their files in order.
    let previous: Promise<unknown> = Promise.resolve();
    const runs = plans.map((plan, t) => {
      const run = previous.then(() => this.exportType(plan, join(dir, `in-${t}`), join(dir, `out-${t}`)));
      // A failure is rethrown when this type's turn comes; until then it must not count as unhandled.
      run.catch(() => undefined);
      previous = run;
      return run;
    });
    let done = 0;
    for (const [t, next] of runs.entries()) {
      const run = await next;
      const boundaries = loadBoundaries(run.plan.count);
      // A load ends at the file nearest its boundary: half a file's resources early is near enough.
      const slack = run.plan.count / run.outputs.length / 2;
      let batch: FlattenOutput[] = [];
      let inBatch = 0;
      let typeDone = 0;
      for (const [k, output] of run.outputs.entries()) {
        const out = await output;
        batch.push(out);
        inBatch += out.resources;
        const boundary = boundaries[0] ?? Number.POSITIVE_INFINITY;
        if (typeDone + inBatch < boundary - slack && k < run.outputs.length - 1) continue;
        if (boundaries.length > 1) boundaries.shift();
        await this.load(run.plan.group, batch);
        for (const b of batch) for (const [i, e] of run.plan.group.entries()) flattened(e, b.views[i]!.flattened);
        typeDone += inBatch;
        done += inBatch;
        progress(done);
        batch = [];
        inBatch = 0;
      }
      rmSync(join(dir, `in-${t}`), { recursive: true, force: true });
      rmSync(join(dir, `out-${t}`), { recursive: true, force: true });
    }
    return done;
  }

  /** Export one type's stale resources and queue every file with the workers. */
  private async exportType(plan: StalePlan, inDir: string, outDir: string): Promise<TypeRun> {
    // One JSON line per stale resource, written by the engine (format: ResourceStore.exportChanged), which
    // staged-flatten.ts reads.
    const files = await this.store.exportChanged(plan.changed, inDir, EXPORT_FILE_BYTES);
    mkdirSync(outDir, { mode: 0o700 });
    const pool = await this.pool!;
    const views = plan.group.map((e) => e.name);
    const outputs = files.map((file, k) => pool.run({ seq: k, file, views, outDir, name: `${k}` }));
    for (const o of outputs) o.catch(() => undefined);
    return { plan, files, outputs };
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    try {
      if (pool) await (await pool).close();
    } finally {
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
      this.dir = undefined;
    }
  }

  private runDir(): string {
    if (!this.dir) {
      const root = this.stagingRoot ?? tmpdir();
      mkdirSync(root, { recursive: true, mode: 0o700 });
      this.dir = mkdtempSync(join(root, 'views-refresh-'));
    }
    return this.dir;
  }

  /** Outputs in one transaction: replaced rows go, new rows and their versions land (see LOAD_BATCH). */
  private async load(group: readonly MaterialisedView[], outs: readonly FlattenOutput[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const [i, e] of group.entries()) {
        const vs = outs.map((o) => o.views[i]!);
        const replaced = vs.flatMap((v) => (v.replaced ? [v.replaced] : []));
        const rows = vs.flatMap((v) => (v.rows ? [v.rows] : []));
        if (replaced.length > 0) {
          const ids = `SELECT id FROM ${await tx.staged(replaced, ID_STAGE, 0)}`;
          await tx.run(`DELETE FROM "${e.table}" WHERE "${SOURCE_COLUMN}" IN (${ids})`);
          await tx.run(`DELETE FROM view_source WHERE view = $1 AND id IN (${ids})`, [e.name]);
        }
        if (rows.length > 0) {
          const columns: StageColumns = [
            ...e.view.columns.map((c, j) => [c.name, e.sqlTypes[j]!] as const),
            [SOURCE_COLUMN, 'VARCHAR'],
          ];
          const longest = 3 * Math.max(...vs.map((v) => v.longestLine));
          const relation = await tx.staged(rows, columns, longest);
          // The shard key is the row's patient key or '' (table-schema.ts), computed here rather than staged.
          const shard = shardSource(e.view.columns) >= 0 ? ", COALESCE(s.patient_key, '')" : '';
          await tx.run(`INSERT INTO "${e.table}" SELECT s.*${shard} FROM ${relation} s`);
        }
      }
      const sources = outs.flatMap((o) => (o.sources ? [o.sources] : []));
      if (sources.length > 0) {
        const names = group.map((_, i) => `($${i + 1}, ${i + 1})`).join(', ');
        const staged = await tx.staged(sources, SOURCE_STAGE, 0);
        await tx.run(
          `INSERT INTO view_source (view, id, version, shard_key) SELECT v.view, s.id, s.version, s.shard_key FROM ${staged} s
             JOIN (VALUES ${names}) AS v (view, pos) ON substr(s.mask, v.pos, 1) = '1'`,
          group.map((e) => e.name),
        );
      }
    });
  }
}
