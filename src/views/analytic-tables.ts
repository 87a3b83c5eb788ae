import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { ChangedQuery, Database, SeenVersions, SqlValue } from '../store/index.js';
import { migrate, ResourceStore } from '../store/index.js';
import type { BuiltInView } from './builtin-views.js';
import { BUILT_IN_VIEWS } from './builtin-views.js';
import type { TableProfile } from './column-profile.js';
import { profileKind, profileTable } from './column-profile.js';
import type { MaterialisedView } from './materialised-view.js';
import { located, materialise, withVersionMeta } from './materialised-view.js';
import type { StalePlan } from './staged-refresh.js';
import { StagedRefresh } from './staged-refresh.js';
import {
  createTableSql,
  distributionColumn,
  SOURCE_COLUMN,
  shardSource,
  tableIndexes,
  tableLayout,
  toSqlRow,
  viewMigrations,
} from './table-schema.js';
import type { PathEngine } from './view-compiler.js';

/** Resources per write transaction: large enough to amortise the commit, small enough to bound memory. */
const BATCH = 10_000;
/**
 * From this many stale resources of one type a refresh takes the parallel path (staged-refresh.ts): starting its
 * workers costs about a second, which a small incremental refresh after an ingest should not pay.
 */
const PARALLEL_FROM = 5_000;

export interface AnalyticTablesOptions {
  /** Bound to each built-in view's `%region` constant: the hub's configured name. */
  region: string;
  clock: Clock;
  views?: readonly BuiltInView[];
  engine?: PathEngine;
  /**
   * Stale resources of one type from which a refresh flattens in worker threads through staged files (default
   * 5,000; 0 always does, Infinity never does).
   */
  parallelFrom?: number;
  /**
   * Where the parallel path stages its files, created when missing (default: the system's temporary folder;
   * a hub's `viewsModule` uses `staging/` under the hub's directory, since staged rows are row-level data).
   */
  stagingDir?: string;
}

export interface RefreshOptions {
  /** Only these resource ids (those an ingest just wrote); omitted = every current resource is checked. */
  ids?: readonly string[];
  /** Drop and rebuild every table from the resource store. */
  rebuild?: boolean;
  onProgress?: (resourcesDone: number) => void;
}

export interface ViewRefresh {
  view: string;
  table: string;
  /** Resources flattened (again) by this refresh. */
  flattened: number;
  /** Rows in the table afterwards. */
  rows: number;
  rebuilt: boolean;
}

export interface RefreshSummary {
  views: ViewRefresh[];
  /** Resources read from the store (each feeds every stale view of its type). */
  resources: number;
}

export interface TableStatus {
  view: string;
  table: string;
  resource: string;
  rows: number;
  refreshedAt: Date | null;
  description: string;
}

/** An analytic table as its last refresh left it. */
export interface RefreshedTable {
  view: string;
  refreshedAt: Date;
  rows: number;
}

type Entry = MaterialisedView;

/**
 * What view `name` has flattened, as the store reads a reader's record: its (id, version, shard key) rows in
 * `view_source`.
 */
function seenBy(name: string): SeenVersions {
  return (bind) => `(SELECT id, version, shard_key FROM view_source WHERE view = ${bind(name)})`;
}

interface Pending {
  rows: SqlValue[][];
  sources: SqlValue[][];
  replaced: string[];
  flattened: number;
}

/**
 * The built-in views materialised as tables `view_<name>` in the hub's store. A refresh flattens only the
 * resources whose current version differs from the one each view last flattened (`view_source`), replacing
 * their rows; a view whose definition changed is rebuilt. Everything here is derived: `refresh({ rebuild })`
 * recreates it from the resource store.
 */
export class AnalyticTables {
  private readonly store: ResourceStore;

  private constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly entries: readonly Entry[],
    private readonly options: AnalyticTablesOptions,
  ) {
    this.store = new ResourceStore(db);
  }

  /** Migrate the views module's tables and compile the built-in views (with `%region` bound): a bare store's use. */
  static async open(db: Database, options: AnalyticTablesOptions): Promise<AnalyticTables> {
    await migrate(db, viewMigrations, options.clock.now());
    return AnalyticTables.over(db, options);
  }

  /**
   * Every analytic table built in `db` (by this or an earlier set of definitions), by view name, with when a
   * refresh last changed it and its row count: what a table derived from them compares to know it is current.
   */
  static async refreshed(db: Database): Promise<RefreshedTable[]> {
    const rows = await db.all<{ view: string; refreshed_at: unknown; row_count: unknown }>(
      'SELECT view, refreshed_at, row_count FROM view_table ORDER BY view',
    );
    return rows.map((r) => ({
      view: r.view,
      refreshedAt: r.refreshed_at instanceof Date ? r.refreshed_at : new Date(String(r.refreshed_at)),
      rows: Number(r.row_count),
    }));
  }

  /** Compile the built-in views over a store whose tables exist (a hub migrates every module when it opens). */
  static over(db: Database, options: AnalyticTablesOptions): AnalyticTables {
    const entries = (options.views ?? BUILT_IN_VIEWS).map((b) => materialise(b, options.region, options.engine));
    return new AnalyticTables(db, options.clock, entries, options);
  }

  /** The compiled definitions, as one hash: a table built from other definitions is stale. */
  get fingerprint(): string {
    const all = this.entries.map((e) => `${e.name}:${e.hash}`).join('|');
    return createHash('sha256').update(all).digest('hex').slice(0, 16);
  }

  /**
   * The columns of view `name` with their descriptions and value profiles (raw counts: disclosure control is the
   * caller's). A table never built has no rows to profile. Throws VIEW_UNKNOWN for a name that is not built in.
   */
  async profile(name: string): Promise<TableProfile> {
    const e = this.entries.find((x) => x.name === name);
    if (!e) {
      throw new HealthmeshError(
        'VIEW_UNKNOWN',
        `no analytic table for view '${name}'; known: ${this.entries.map((x) => x.name).join(', ')}`,
      );
    }
    const built = await this.db.all('SELECT 1 AS b FROM view_table WHERE view = $1', [name]);
    if (built.length === 0) {
      return {
        view: e.name,
        table: e.table,
        rows: 0,
        columns: e.view.columns.map((c, i) => ({
          name: c.name,
          type: c.type,
          description: c.description ?? '',
          kind: profileKind(c.name, c.type, e.sqlTypes[i]!),
          filled: 0,
          distinct: 0,
        })),
      };
    }
    return profileTable(this.db, e);
  }

  /** Each table with its row count and when a refresh last changed it (null: never built). */
  async list(): Promise<TableStatus[]> {
    const rows = await this.db.all<{ view: string; row_count: number; refreshed_at: Date }>(
      'SELECT view, row_count, refreshed_at FROM view_table',
    );
    const byView = new Map(rows.map((r) => [r.view, r]));
    return this.entries.map((e) => {
      const r = byView.get(e.name);
      return {
        view: e.name,
        table: e.table,
        resource: e.view.definition.resource,
        rows: r ? Number(r.row_count) : 0,
        refreshedAt: r ? new Date(r.refreshed_at) : null,
        description: e.view.definition.description ?? '',
      };
    });
  }

  /** Bring every table up to date with the resource store. */
  async refresh(options: RefreshOptions = {}): Promise<RefreshSummary> {
    const registry = new Map(
      (
        await this.db.all<{ view: string; definition_hash: string; layout_hash: string | null }>(
          'SELECT view, definition_hash, layout_hash FROM view_table',
        )
      ).map((r) => [r.view, r]),
    );
    const results = new Map<string, ViewRefresh>();
    for (const e of this.entries) {
      const built = registry.get(e.name);
      const rebuilt = options.rebuild === true || built?.definition_hash !== e.hash;
      if (rebuilt) await this.recreate(e, built?.layout_hash ?? null);
      results.set(e.name, { view: e.name, table: e.table, flattened: 0, rows: 0, rebuilt });
    }
    // A rebuilt table needs every resource, whatever ids the caller named.
    const anyRebuilt = [...results.values()].some((r) => r.rebuilt);
    const ids = anyRebuilt ? undefined : options.ids;
    let resources = 0;
    const byType = new Map<string, Entry[]>();
    for (const e of this.entries)
      byType.set(e.view.definition.resource, [...(byType.get(e.view.definition.resource) ?? []), e]);
    // Rows of resources gone from the store, or whose patient changed since a view flattened them, go first: the
    // store finds a view's record of a resource by (id, shard key), so a moved resource is then flattened afresh
    // under its new key, and its old rows (in its old patient's shard on a cluster) are not left behind. A table
    // rebuilt just now holds no rows: the anti-join over a million ids is skipped.
    const changed = new Set<string>();
    for (const e of this.entries) {
      if (!results.get(e.name)!.rebuilt && (await this.dropVanished(e, ids)) > 0) changed.add(e.name);
    }
    const plans: StalePlan[] = [];
    for (const [type, group] of byType) {
      const fresh = group.every((e) => results.get(e.name)!.rebuilt);
      const plan = await this.plan(type, group, ids, fresh);
      if (plan) plans.push(plan);
    }
    const threshold = this.options.parallelFrom ?? PARALLEL_FROM;
    // Once one type is large enough to start the workers, every type goes through them: flattening a small type
    // here first held back the first export (4,400 Patients took 1.4 s of a 19 s build of 1M resources).
    // Smallest first: the workers start on a small type while the store exports the larger ones behind it.
    const parallel = plans.some((p) => p.count >= threshold);
    const staged = new StagedRefresh(
      this.db,
      this.store,
      { views: this.options.views ?? BUILT_IN_VIEWS, region: this.options.region, engine: this.options.engine },
      this.options.stagingDir,
    );
    try {
      if (parallel) {
        const flattened = (e: Entry, n: number) => {
          results.get(e.name)!.flattened += n;
        };
        const bySize = [...plans].sort((a, b) => a.count - b.count);
        resources += await staged.refreshTypes(bySize, flattened, (n) => options.onProgress?.(resources + n));
      } else {
        for (const plan of plans) {
          resources += await this.refreshType(plan, results, (n) => options.onProgress?.(resources + n));
        }
      }
    } finally {
      await staged.close();
    }
    // A view's table changed when it was rebuilt, when its type had stale resources, or when rows of vanished or
    // moved resources were dropped (above). Only those are stamped again: the stamp is what tells readers of the tables (the
    // cohort event index) to rebuild, and a refresh that found nothing to do must not make them.
    for (const e of this.entries) if (results.get(e.name)!.rebuilt) changed.add(e.name);
    for (const p of plans) for (const e of p.group) changed.add(e.name);
    for (const e of this.entries) {
      const [count] = await this.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM "${e.table}"`);
      const r = results.get(e.name)!;
      r.rows = Number(count?.n ?? 0);
      if (!changed.has(e.name)) continue;
      await this.db.transaction(async (tx) => {
        await tx.run('DELETE FROM view_table WHERE view = $1', [e.name]);
        await tx.run(
          'INSERT INTO view_table (view, table_name, definition_hash, refreshed_at, row_count, layout_hash) VALUES ($1, $2, $3, $4, $5, $6)',
          [e.name, e.table, e.hash, this.clock.now(), r.rows, this.layout(e)],
        );
      });
    }
    if (changed.size > 0) {
      await this.db.analyze([...this.entries.filter((e) => changed.has(e.name)).map((e) => e.table), 'view_source']);
    }
    return { views: [...results.values()], resources };
  }

  private layout(e: Entry): string {
    return tableLayout(e.table, e.view.definition.resource, e.view.columns);
  }

  /**
   * Empty `e`'s table for a rebuild: made anew, unless the table holds no rows and was made with the same layout
   * (`builtLayout`, from `view_table`), as when a hub's first refresh finds the empty tables of a store made from a
   * copy, or a new `%region` is bound before anything was ingested. Making a table is DDL that a Citus cluster runs
   * on every shard (about 0.5 s per table with its placement and two indexes, measured on the test cluster under
   * load): a hub's first refresh made nine.
   */
  private async recreate(e: Entry, builtLayout: string | null): Promise<void> {
    await this.db.transaction(async (tx) => {
      const kept =
        builtLayout === this.layout(e) && (await tx.all(`SELECT 1 AS found FROM "${e.table}" LIMIT 1`)).length === 0;
      if (!kept) {
        await tx.run(`DROP TABLE IF EXISTS "${e.table}"`);
        await tx.run(createTableSql(e.table, e.view.columns));
        // Placed before its indexes, as migrations place theirs; engines without a cluster ignore it.
        const by = distributionColumn(e.view.definition.resource, e.view.columns);
        if (by !== undefined) await tx.distribute(e.table, by);
        for (const columns of tableIndexes(e.view.columns)) await tx.index(e.table, columns);
      }
      await tx.run('DELETE FROM view_source WHERE view = $1', [e.name]);
      await tx.run('DELETE FROM view_table WHERE view = $1', [e.name]);
    });
  }

  /** The resources of one type that any of its views has not seen at their current version (null: none). */
  private async plan(
    type: string,
    group: readonly Entry[],
    ids: readonly string[] | undefined,
    fresh: boolean,
  ): Promise<StalePlan | null> {
    if (ids?.length === 0) return null;
    // Stale heads first, content only for them: a refresh with little to do must not read every body.
    const changed: ChangedQuery = { type, seen: group.map((e) => seenBy(e.name)), ...(ids && { ids }) };
    if (fresh) {
      // Every current resource is stale for views rebuilt just now: counting them needs no join.
      const count = await this.store.count(type);
      return count === 0 ? null : { type, group, changed, count };
    }
    // Whether anything is stale is asked one view at a time: the heads joined to every view's sources in one
    // statement held a hash table per view at once, and with two views of 6 million Observations (60,000 residents)
    // that ran out of DuckDB's 1 GB, where one such join needs less than 150 MB (measured; docs/architecture.md).
    // A refresh with nothing to do (every feature build and cohort run starts with one) stops here.
    if (group.length > 1) {
      let anyStale = false;
      for (const e of group) {
        anyStale = (await this.store.countChanged({ type, seen: [seenBy(e.name)], ...(ids && { ids }) })) > 0;
        if (anyStale) break;
      }
      if (!anyStale) return null;
    }
    const count = await this.store.countChanged(changed);
    return count === 0 ? null : { type, group, changed, count };
  }

  /** Flatten one type's stale resources in this thread, streaming bodies from the store. */
  private async refreshType(
    plan: StalePlan,
    results: Map<string, ViewRefresh>,
    progress: (n: number) => void,
  ): Promise<number> {
    const { type, group } = plan;
    let pending = group.map((): Pending => ({ rows: [], sources: [], replaced: [], flattened: 0 }));
    const shardOf = group.map((e) => shardSource(e.view.columns));
    let inBatch = 0;
    let done = 0;
    // One write transaction stays in flight while the next batch is read and flattened: the profile showed the
    // JS thread idle for almost half the build waiting on commits and on the next chunk of the scan.
    let inFlight: Promise<void> = Promise.resolve();
    for await (const chunk of prefetched(this.store.streamChanged(plan.changed))) {
      for (const row of chunk) {
        const { id, version } = row;
        const resource = JSON.parse(row.content) as Record<string, unknown>;
        withVersionMeta(resource, version, row.lastUpdated.getTime());
        for (let i = 0; i < group.length; i++) {
          const seenVersion = row.seen[i] ?? null;
          if (seenVersion === version) continue;
          const e = group[i]!;
          const p = pending[i]!;
          let sqlRows: SqlValue[][];
          try {
            sqlRows = e.view.rows(resource).map((values) => toSqlRow(e.view.columns, e.sqlTypes, values));
          } catch (err) {
            throw located(err, e.name, type, id);
          }
          const shard = shardOf[i]!;
          for (const sqlRow of sqlRows) {
            sqlRow.push(id);
            if (shard >= 0) sqlRow.push(sqlRow[shard] ?? '');
            p.rows.push(sqlRow);
          }
          p.sources.push([e.name, id, version, row.shardKey]);
          if (seenVersion !== null) p.replaced.push(id);
          p.flattened++;
        }
        inBatch++;
      }
      if (inBatch >= BATCH) {
        await inFlight;
        inFlight = this.write(group, pending, results);
        // A failed write is rethrown by the next await; this keeps it from being reported as unhandled first.
        inFlight.catch(() => undefined);
        done += inBatch;
        progress(done);
        inBatch = 0;
        pending = group.map((): Pending => ({ rows: [], sources: [], replaced: [], flattened: 0 }));
      }
    }
    await inFlight;
    await this.write(group, pending, results);
    return done + inBatch;
  }

  /** One transaction per batch: replaced rows go, new rows and their versions land, together or not at all. */
  private async write(group: readonly Entry[], pending: readonly Pending[], results: Map<string, ViewRefresh>) {
    if (pending.every((p) => p.sources.length === 0)) return;
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < group.length; i++) {
        const e = group[i]!;
        const p = pending[i]!;
        if (p.replaced.length > 0) {
          await tx.run(`DELETE FROM "${e.table}" WHERE ${tx.inList(`"${SOURCE_COLUMN}"`, '$1')}`, [p.replaced]);
          await tx.run(`DELETE FROM view_source WHERE view = $1 AND ${tx.inList('id', '$2')}`, [e.name, p.replaced]);
        }
        await tx.append(e.table, p.rows);
        await tx.append('view_source', p.sources);
      }
    });
    for (let i = 0; i < group.length; i++) results.get(group[i]!.name)!.flattened += pending[i]!.flattened;
  }

  /**
   * Drops the rows of resources no longer in the store (it has no delete yet; this keeps tables right when it does)
   * or no longer under the patient they were flattened for, among `ids` when given, and returns how many resources
   * that was.
   */
  private async dropVanished(e: Entry, ids: readonly string[] | undefined): Promise<number> {
    const gone = await this.store.vanishedIds(e.view.definition.resource, seenBy(e.name), ids);
    if (gone.length === 0) return 0;
    await this.db.transaction(async (tx) => {
      await tx.run(`DELETE FROM "${e.table}" WHERE ${tx.inList(`"${SOURCE_COLUMN}"`, '$1')}`, [gone]);
      await tx.run(`DELETE FROM view_source WHERE view = $1 AND ${tx.inList('id', '$2')}`, [e.name, gone]);
    });
    return gone.length;
  }
}

/** Ask for the next chunk before the current one is handed out, so the scan runs while JS flattens. */
async function* prefetched<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}
