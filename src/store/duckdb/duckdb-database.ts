import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as DuckApi from '@duckdb/node-api';
import type {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBResult,
  DuckDBType,
  DuckDBVector,
} from '@duckdb/node-api';
import { HealthmeshError } from '../../core/index.js';
import { AsyncMutex } from '../async-mutex.js';
import type { Database, Row, SqlValue } from '../database.js';
import type { StageColumns } from '../staged-rows.js';
import { STAGE_DELIMITER, STAGE_QUOTE } from '../staged-rows.js';

/**
 * The DuckDB client, loaded by `DuckDbDatabase.open`: loading its native binding takes ~0.4 s, which code that only
 * needs the store's types or its staging format (the ingest's worker threads) should not pay.
 */
let duck: typeof DuckApi;

type BoundValue =
  | string
  | number
  | bigint
  | boolean
  | ReturnType<typeof DuckApi.timestampTZValue>
  | ReturnType<typeof DuckApi.listValue>
  | null;

function bind(params: readonly SqlValue[]): { values: BoundValue[]; types: DuckDBType[] } {
  const values: BoundValue[] = [];
  const types: DuckDBType[] = [];
  for (const p of params) {
    if (p === null) {
      values.push(null);
      types.push(duck.VARCHAR);
    } else if (typeof p === 'string') {
      values.push(p);
      types.push(duck.VARCHAR);
    } else if (typeof p === 'number') {
      values.push(Number.isSafeInteger(p) ? BigInt(p) : p);
      types.push(Number.isSafeInteger(p) ? duck.BIGINT : duck.DOUBLE);
    } else if (typeof p === 'bigint') {
      values.push(p);
      types.push(duck.BIGINT);
    } else if (Array.isArray(p)) {
      values.push(duck.listValue(p as string[]));
      types.push(duck.LIST(duck.VARCHAR));
    } else if (typeof p === 'boolean') {
      values.push(p);
      types.push(duck.BOOLEAN);
    } else {
      values.push(duck.timestampTZValue(BigInt((p as Date).getTime()) * 1000n));
      types.push(duck.TIMESTAMPTZ);
    }
  }
  return { values, types };
}

/** BIGINT comes back as bigint; counts and versions fit a number, so callers get plain numbers. */
function plainNumber(v: unknown): unknown {
  return typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/**
 * One column's values as JS. Plain types are the vector's own items (a number, string, boolean or bigint, as the
 * driver's JS converter would return them); the rest go through that converter (dates, decimals, lists).
 */
function columnReader(vector: DuckDBVector): (row: number) => unknown {
  const type = vector.type;
  const id = duck.DuckDBTypeId;
  switch (type.typeId) {
    case id.BOOLEAN:
    case id.TINYINT:
    case id.SMALLINT:
    case id.INTEGER:
    case id.UTINYINT:
    case id.USMALLINT:
    case id.UINTEGER:
    case id.FLOAT:
    case id.DOUBLE:
    case id.VARCHAR:
      return (r) => vector.getItem(r);
    case id.BIGINT:
    case id.UBIGINT:
    case id.HUGEINT:
    case id.UHUGEINT:
      return (r) => plainNumber(vector.getItem(r));
    default: {
      const js = duck.JSDuckDBValueConverter;
      return (r) => plainNumber(js(vector.getItem(r), type, js));
    }
  }
}

/**
 * A chunk's rows as objects, filled column by column: the driver's row objects look up each value's vector, type
 * and converter one value at a time, which cost 0.44-0.63 s for a 95,019-row, 11-column feature query against
 * 0.15-0.18 s for its columns (measured); every row gets its keys in the same order, so they share one shape.
 */
function chunkRows(chunk: DuckDBDataChunk, names: readonly string[]): Row[] {
  const n = chunk.rowCount;
  const rows: Row[] = new Array(n);
  for (let r = 0; r < n; r++) rows[r] = {};
  for (let c = 0; c < names.length; c++) {
    const name = names[c]!;
    const read = columnReader(chunk.getColumnVector(c));
    for (let r = 0; r < n; r++) rows[r]![name] = read(r) as Row[string];
  }
  return rows;
}

/** Every chunk of `result`, as row objects. */
async function* resultRows(result: DuckDBResult): AsyncIterable<Row[]> {
  const names = result.deduplicatedColumnNames();
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return;
    yield chunkRows(chunk, names);
  }
}

function duckdbInList(expr: string, placeholder: string): string {
  return `${expr} IN (SELECT unnest(${placeholder}::VARCHAR[]))`;
}

/** DuckDB's own default; a staged line longer than this raises the limit for that read only. */
const DEFAULT_MAX_LINE_BYTES = 2_000_000;
const MIN_BUFFER_BYTES = 32 * 1024 * 1024;

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Staged files through DuckDB's CSV reader with every dialect option given, so nothing is sniffed. */
function duckdbStagedRows(files: readonly string[], columns: StageColumns, longestLineBytes: number): string {
  if (files.length === 0) throw new Error('staged needs at least one file');
  const maxLine = Math.max(DEFAULT_MAX_LINE_BYTES, longestLineBytes + 1);
  const columnSpec = columns.map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`).join(', ');
  return `read_csv([${files.map(sqlString).join(', ')}], columns = {${columnSpec}}, delim = ${sqlString(STAGE_DELIMITER)}, quote = ${sqlString(STAGE_QUOTE)}, escape = ${sqlString(STAGE_QUOTE)}, header = false, auto_detect = false, new_line = '\\n', allow_quoted_nulls = false, max_line_size = ${maxLine}, buffer_size = ${Math.max(MIN_BUFFER_BYTES, 2 * maxLine)})`;
}

type Appendfn = (a: DuckDBAppender, v: SqlValue) => void;

function appenderFor(type: DuckDBType): Appendfn {
  switch (type.typeId) {
    case duck.DuckDBTypeId.VARCHAR:
      return (a, v) => a.appendVarchar(String(v));
    case duck.DuckDBTypeId.INTEGER:
      return (a, v) => a.appendInteger(Number(v));
    case duck.DuckDBTypeId.BIGINT:
      return (a, v) => a.appendBigInt(BigInt(v as number));
    case duck.DuckDBTypeId.BOOLEAN:
      return (a, v) => a.appendBoolean(Boolean(v));
    case duck.DuckDBTypeId.DOUBLE:
      return (a, v) => a.appendDouble(Number(v));
    case duck.DuckDBTypeId.TIMESTAMP_TZ:
      // appendTimestamp takes UTC microseconds and DuckDB stores that instant in the TIMESTAMPTZ column; it is a
      // native call, where appendTimestampTZ goes through the generic value path (3x slower, measured).
      return (a, v) =>
        a.appendTimestamp(duck.timestampValue(BigInt((v instanceof Date ? v : new Date(String(v))).getTime()) * 1000n));
    default:
      return (a, v) => a.appendValue(v as never, type);
  }
}

/**
 * A new store file is written in DuckDB 1.5's storage format: the older format it defaulted to (v1.0) cannot
 * compress a string column with zstd (`BODY_TYPE`), and left resource bodies uncompressed. A file made in the older
 * format keeps it (DuckDB reads and writes it as before) and its bodies stay uncompressed.
 */
const STORAGE_SETTINGS: Record<string, string> = { storage_compatibility_version: 'v1.5.0' };

/**
 * Resource bodies compressed with zstd: the Synthea sample's store (32,178 resources, 45 MB of bodies) takes 22 MB
 * on disk instead of 89 MB, so a view refresh or an export reads about a quarter of the blocks into DuckDB's buffer
 * pool. On the views bench (1M resources, 1 GB buffer pool) a refresh took 24.4 and 26.1 CPU-s instead of 31.6 and
 * 31.1; an ingest of 225 MB 17.3 CPU-s either way (docs/views.md, "Speed").
 */
const BODY_TYPE = 'VARCHAR USING COMPRESSION zstd';

/** One DuckDB connection with its own statement queue. */
class Session implements Database {
  readonly engine = 'duckdb' as const;
  readonly bodyType = BODY_TYPE;
  constructor(
    protected readonly conn: DuckDBConnection,
    protected readonly queue: AsyncMutex,
    private readonly inTransaction: boolean,
  ) {}

  private exec<T>(fn: () => Promise<T>): Promise<T> {
    // Inside a transaction the caller already holds the writer's lock.
    return this.inTransaction ? fn() : this.queue.lock(fn);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    return this.exec(async () => {
      const { values, types } = bind(params);
      await this.conn.run(sql, values as never, types);
    });
  }

  execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.exec(async () => {
      const { values, types } = bind(params);
      return (await this.conn.run(sql, values as never, types)).rowsChanged;
    });
  }

  all<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.exec(async () => {
      const { values, types } = bind(params);
      const rows: T[] = [];
      for await (const chunk of resultRows(await this.conn.run(sql, values as never, types))) {
        for (const r of chunk) rows.push(r as T);
      }
      return rows;
    });
  }

  async *stream<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): AsyncIterable<T[]> {
    // Holds the connection until the consumer finishes or stops early: chunks are pulled on demand,
    // so memory stays bounded however large the result.
    const release = this.inTransaction ? () => undefined : await this.queue.acquire();
    try {
      const { values, types } = bind(params);
      const result = await this.conn.stream(sql, values as never, types);
      for await (const chunk of resultRows(result)) yield chunk as T[];
    } finally {
      release();
    }
  }

  append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.exec(async () => {
      if (rows.length === 0) return;
      const appender = await this.conn.createAppender(table);
      try {
        const fns: Appendfn[] = [];
        for (let i = 0; i < appender.columnCount; i++) fns.push(appenderFor(appender.columnType(i)));
        for (const row of rows) {
          for (let i = 0; i < fns.length; i++) {
            const v = row[i];
            if (v === null || v === undefined) appender.appendNull();
            else fns[i]!(appender, v);
          }
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
    });
  }

  inList(expr: string, placeholder: string): string {
    return duckdbInList(expr, placeholder);
  }

  insertSelects(table: string, columns: readonly string[], selects: readonly string[], orderBy: string): Promise<void> {
    return this.run(unionInsert(table, columns, selects, orderBy));
  }

  exportLines(sql: string, params: readonly SqlValue[], dir: string, fileBytes: number): Promise<string[]> {
    return this.exec(async () => {
      const { values, types } = bind(params);
      // QUOTE '' turns quoting off: DuckDB's CSV writer would otherwise quote lines holding '#' and the like.
      await this.conn.run(
        `COPY (${sql}) TO ${sqlString(dir)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER ${sqlString(STAGE_DELIMITER)}, FILE_SIZE_BYTES ${Math.max(1, Math.floor(fileBytes))})`,
        values as never,
        types,
      );
      return readdirSync(dir)
        .sort()
        .map((f) => join(dir, f));
    });
  }

  async staged(files: readonly string[], columns: StageColumns, longestLineBytes: number): Promise<string> {
    return duckdbStagedRows(files, columns, longestLineBytes);
  }

  async analyze(_tables: readonly string[]): Promise<void> {}
  async index(_table: string, _columns: readonly string[]): Promise<void> {}
  async key(_table: string, _columns: readonly string[]): Promise<void> {}
  async distribute(_table: string, _column: string | null): Promise<void> {}
  async markWriting(): Promise<{ release(): Promise<void> }> {
    return NO_MARKER;
  }
  async writesElsewhere(): Promise<number> {
    return 0;
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.queue.lock(async () => {
      await this.conn.run('BEGIN TRANSACTION');
      const tx = new Session(this.conn, this.queue, true);
      try {
        const result = await fn(tx);
        await this.conn.run('COMMIT');
        return result;
      } catch (e) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.queue.lock(async () => this.conn.closeSync());
  }
}

/**
 * The embedded default engine: one DuckDB file. Writes go through one connection, serialised; reads use a
 * second connection so they never see a writer's open transaction.
 */
export class DuckDbDatabase implements Database {
  readonly engine = 'duckdb' as const;
  readonly bodyType = BODY_TYPE;
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: Session,
    private readonly reader: Session,
  ) {}

  /**
   * Open (or create) the database file at `path`; `:memory:` for a throwaway store. `memoryLimit` caps DuckDB's
   * buffer pool (its default is 80% of RAM), so a hub's memory stays bounded however much it ingests.
   */
  static async open(path: string, options: { memoryLimit?: string } = {}): Promise<DuckDbDatabase> {
    duck ??= await import('@duckdb/node-api');
    let instance: DuckDBInstance;
    try {
      instance = await duck.DuckDBInstance.create(path, {
        ...STORAGE_SETTINGS,
        ...(options.memoryLimit ? { memory_limit: options.memoryLimit } : {}),
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/lock/i.test(message)) {
        throw new HealthmeshError('STORE_LOCKED', `the store ${path} is open in another process: ${message}`, {
          file: path,
        });
      }
      throw e;
    }
    const writer = new Session(await instance.connect(), new AsyncMutex(), false);
    const reader = new Session(await instance.connect(), new AsyncMutex(), false);
    return new DuckDbDatabase(instance, writer, reader);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<void> {
    return this.writer.run(sql, params);
  }
  execute(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.writer.execute(sql, params);
  }
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.reader.all<T>(sql, params);
  }
  stream<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): AsyncIterable<T[]> {
    return this.reader.stream<T>(sql, params);
  }
  append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.writer.append(table, rows);
  }
  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    return this.writer.transaction(fn);
  }
  inList(expr: string, placeholder: string): string {
    return duckdbInList(expr, placeholder);
  }
  insertSelects(table: string, columns: readonly string[], selects: readonly string[], orderBy: string): Promise<void> {
    return this.writer.insertSelects(table, columns, selects, orderBy);
  }
  /** Runs on the reader connection: it sees committed data only, like `stream`. */
  exportLines(sql: string, params: readonly SqlValue[], dir: string, fileBytes: number): Promise<string[]> {
    return this.reader.exportLines(sql, params, dir, fileBytes);
  }
  async staged(files: readonly string[], columns: StageColumns, longestLineBytes: number): Promise<string> {
    return duckdbStagedRows(files, columns, longestLineBytes);
  }
  async analyze(_tables: readonly string[]): Promise<void> {}
  async index(_table: string, _columns: readonly string[]): Promise<void> {}
  async key(_table: string, _columns: readonly string[]): Promise<void> {}
  async distribute(_table: string, _column: string | null): Promise<void> {}
  async markWriting(): Promise<{ release(): Promise<void> }> {
    return NO_MARKER;
  }
  async writesElsewhere(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {
    await this.reader.close();
    await this.writer.close();
    this.instance.closeSync();
  }
}

/** One process owns a DuckDB store: its writes in flight are known in-process. */
const NO_MARKER = { release: async () => undefined };

/** One INSERT of the SELECTs' UNION ALL, sorted (`Database.insertSelects`). */
function unionInsert(table: string, columns: readonly string[], selects: readonly string[], orderBy: string): string {
  return `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')})
    SELECT * FROM (${selects.join('\n UNION ALL\n')}) u ORDER BY ${orderBy}`;
}
