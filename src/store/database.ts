import type { StageColumns } from './staged-rows.js';

/** A value bound to a SQL parameter or appended to a table. Dates are bound as timestamps. */
export type SqlValue = string | number | bigint | boolean | Date | null | readonly string[];

export type Row = Record<string, unknown>;

/**
 * The storage port. SQL is written once in the subset DuckDB and PostgreSQL both speak, with `$1`-style
 * positional parameters; dialect quirks stay inside each engine.
 */
export interface Database {
  readonly engine: 'duckdb' | 'postgres';
  /**
   * The column type of a large text value written once and read whole (a resource's body), for a migration's
   * `CREATE TABLE`: the engine picks how it is compressed.
   */
  readonly bodyType: string;
  /** Run a statement that returns nothing of interest. */
  run(sql: string, params?: readonly SqlValue[]): Promise<void>;
  /** Run a statement and return the number of rows it inserted, updated or deleted. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Run a query and return every row (use `stream` when the result may be large). */
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Run a query and yield rows in chunks, so memory stays bounded on large results. */
  stream<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): AsyncIterable<T[]>;
  /** Bulk-append rows (values in table column order). Inside a transaction, rolled back with it. */
  append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void>;
  /**
   * Run `fn` in one transaction on the single writer: commits if it resolves, rolls back if it throws.
   * Writers are serialised; readers outside see either all of it or none of it.
   */
  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T>;
  /**
   * SQL that tests `expr` against a list bound as one parameter (a `readonly string[]` value): one bound list
   * is much cheaper than thousands of placeholders. DuckDB: `IN (SELECT unnest($n::VARCHAR[]))`; PostgreSQL:
   * `= ANY($n)`.
   */
  inList(expr: string, placeholder: string): string;
  /**
   * Insert into `table`'s `columns` the rows of every SELECT of `selects` (each giving those columns in that order),
   * as one write: DuckDB and PostgreSQL run one INSERT of their UNION ALL sorted by `orderBy` (column positions, such
   * as '3, 4, 1': DuckDB then prunes row groups by min/max; one statement, since DuckDB 1.5 lost rows of a large
   * insert that followed another in one transaction). A Citus coordinator runs one INSERT per SELECT, unsorted: Citus
   * never pushes a UNION ALL down, and an INSERT … SELECT from a table co-located with `table` that gives the source's
   * distribution column as `table`'s runs within each shard, where the UNION went through the coordinator.
   */
  insertSelects(table: string, columns: readonly string[], selects: readonly string[], orderBy: string): Promise<void>;
  /**
   * Write the rows of `sql` (one text column whose values hold no line feed) to files in the folder `dir` (which must
   * not exist yet), one row per line and about `fileBytes` per file, and return the files. The engine writes them with its
   * own threads, so a large result never passes through JavaScript. DuckDB: `COPY (...) TO` with no quoting.
   */
  exportLines(sql: string, params: readonly SqlValue[], dir: string, fileBytes: number): Promise<string[]>;
  /**
   * A relation over staged files (the format of `staged-rows.ts`) with these columns, for use in FROM within the
   * current transaction. `longestLineBytes` bounds the longest line in UTF-8 bytes. DuckDB reads the files where
   * they lie (`read_csv(...)` with nothing sniffed); PostgreSQL loads them into a temporary table dropped at commit.
   */
  staged(files: readonly string[], columns: StageColumns, longestLineBytes: number): Promise<string>;
  /**
   * Bring the planner's statistics of these tables up to date after a bulk change. PostgreSQL plans from them and
   * a freshly loaded table has none (its cohort queries took seconds instead of milliseconds); DuckDB keeps its own
   * as it writes, so there it does nothing. Outside a transaction.
   */
  analyze(tables: readonly string[]): Promise<void>;
  /**
   * An index on `columns` of `table`, where this engine keeps one: PostgreSQL, whose correlated subqueries and
   * per-person lookups otherwise scan a whole table per row. DuckDB keeps none: its indexes were rewritten whole at
   * every checkpoint (resource-schema.ts) and its scans and joins need none. Idempotent.
   */
  index(table: string, columns: readonly string[]): Promise<void>;
  /**
   * A logical key: no two rows of `table` share `columns`. PostgreSQL keeps it as a unique index, a backstop for
   * several writing processes (each plans its batch under the writer's lock). DuckDB cannot afford one on large
   * tables (its key indexes are rewritten whole at every checkpoint, resource-schema.ts) and relies on the single
   * writer planning every batch against the heads it read. Idempotent.
   */
  key(table: string, columns: readonly string[]): Promise<void>;
  /**
   * Spread `table` over a cluster's workers by `column`, co-located with every table distributed by a column of the
   * same type (Citus: `create_distributed_table`); `null` copies it whole to every node instead (a reference table).
   * Engines without workers (DuckDB, PostgreSQL without Citus) keep it as it is. Right after the table is made, before
   * its keys: a key of a distributed table holds within a shard, so it must include `column` (`key`).
   */
  distribute(table: string, column: string | null): Promise<void>;
  /**
   * Mark a write (its commits and the derived-data pass after them) as in flight, for every process on this store,
   * until `release`. A marker dies with its process. DuckDB has one process per store: nothing to mark.
   */
  markWriting(): Promise<{ release(): Promise<void> }>;
  /** How many writes other processes have marked in flight now (DuckDB: none). */
  writesElsewhere(): Promise<number>;
  close(): Promise<void>;
}

/** `$first, $first+1, ...` placeholders for an IN list of `n` values: portable across both engines. */
export function placeholders(n: number, first = 1): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`$${first + i}`);
  return out.join(', ');
}
