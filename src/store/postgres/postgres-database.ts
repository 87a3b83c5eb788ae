import { closeSync, createReadStream, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type * as PgApi from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type * as CopyApi from 'pg-copy-streams';
import type CursorClass from 'pg-cursor';
import { HealthmeshError } from '../../core/index.js';
import { AsyncMutex } from '../async-mutex.js';
import type { Database, Row, SqlValue } from '../database.js';
import type { StageColumns, StageType } from '../staged-rows.js';
import { STAGE_DELIMITER, STAGE_QUOTE } from '../staged-rows.js';

/** The driver, its COPY streams and cursors: loaded on first open, so a DuckDB hub never pays for them. */
let pg: typeof PgApi;
let copy: typeof CopyApi;
let Cursor: typeof CursorClass;

/** Rows fetched per round trip by `stream` and `exportLines`. */
const CURSOR_ROWS = 4096;

/**
 * Every writing transaction of every process on this database takes this advisory lock first: the store's writes
 * plan against the heads they read (`planWrites`, staged batches), which is only sound with one writer at a time,
 * as DuckDB has. Readers never take it.
 */
const WRITER_LOCK_KEY = 0x6865616c; // 'heal'
/** The two-key advisory lock marking writes in flight ('heal', 'writ'); in `pg_locks` as classid, objid. */
const WRITE_MARK = [0x6865616c, 0x77726974];

/**
 * Rows as callers get them from DuckDB too: 64-bit integers and NUMERIC as numbers (bigint past 2^53), DATE as
 * the UTC midnight of that day, TIMESTAMP (without zone) read as UTC. Per pool, so the driver's globals stay.
 */
function typeParsers(): PgApi.CustomTypesConfig {
  const { types } = pg;
  const int8 = (s: string) => {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  };
  const utcDate = (s: string) => (/^\d/.test(s) ? new Date(`${s}T00:00:00Z`) : s);
  const utcTimestamp = (s: string) => (/^\d/.test(s) ? new Date(`${s.replace(' ', 'T')}Z`) : s);
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      switch (oid) {
        case types.builtins.INT8:
          return int8;
        case types.builtins.NUMERIC:
          return Number;
        case types.builtins.DATE:
          return utcDate;
        case types.builtins.TIMESTAMP:
          return utcTimestamp;
        default:
          return types.getTypeParser(oid, format);
      }
    }) as PgApi.CustomTypesConfig['getTypeParser'],
  };
}

/** Parameters as the driver binds them: bigints as text (it would refuse them), lists as arrays. */
function bindAll(params: readonly SqlValue[]): unknown[] {
  return params.map((p) => (typeof p === 'bigint' ? p.toString() : p));
}

const PG_TYPE: Record<StageType, string> = {
  VARCHAR: 'TEXT',
  BIGINT: 'BIGINT',
  INTEGER: 'INTEGER',
  DOUBLE: 'DOUBLE PRECISION',
  BOOLEAN: 'BOOLEAN',
};

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** A value in COPY's text format: `\N` is NULL; backslash, tab, CR and LF escaped. */
function copyText(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return '\\N';
  let s: string;
  if (v instanceof Date) s = v.toISOString();
  else if (Array.isArray(v))
    s = `{${v.map((x) => `"${String(x).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
  else s = String(v);
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** A body is plain text: TOAST compresses large values by itself. */
const BODY_TYPE = 'VARCHAR';

/** Statements on one client (a transaction's) or on the pool (autocommit); `staged` tables need a transaction. */
class PgSession implements Database {
  readonly engine = 'postgres' as const;
  readonly bodyType = BODY_TYPE;
  private stagedCount = 0;

  constructor(
    private readonly target: Pool | PoolClient,
    private readonly owner: PostgresDatabase,
    private readonly inTransaction: boolean,
  ) {}

  private async query<T extends QueryResultRow>(
    sql: string,
    params: readonly SqlValue[],
  ): Promise<PgApi.QueryResult<T>> {
    try {
      return await this.target.query<T>({ text: sql, values: bindAll(params), types: this.owner.types });
    } catch (e) {
      throw storeError(e, sql, this.owner.distributed);
    }
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    await this.query(sql, params);
  }

  async insertSelects(
    table: string,
    columns: readonly string[],
    selects: readonly string[],
    orderBy: string,
  ): Promise<void> {
    const into = `INSERT INTO "${table}" (${quoted(columns)})`;
    if (!this.owner.distributed) {
      await this.run(`${into} SELECT * FROM (${selects.join('\n UNION ALL\n')}) u ORDER BY ${orderBy}`);
      return;
    }
    // Each on its own: Citus pushes an INSERT … SELECT down to the shards only without set operations (and without
    // an ORDER BY worth keeping: a shard's heap keeps no order the cluster's readers use).
    for (const select of selects) await this.run(`${into} ${select}`);
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async all<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.query<T>(sql, params)).rows;
  }

  async *stream<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): AsyncIterable<T[]> {
    const client = this.inTransaction ? (this.target as PoolClient) : await (this.target as Pool).connect();
    const cursor = client.query(new Cursor<T>(sql, bindAll(params), { types: this.owner.types }));
    try {
      for (;;) {
        let rows: T[];
        try {
          rows = await cursor.read(CURSOR_ROWS);
        } catch (e) {
          throw storeError(e, sql, this.owner.distributed);
        }
        if (rows.length === 0) break;
        yield rows;
      }
    } finally {
      await cursor.close().catch(() => undefined);
      if (!this.inTransaction) (client as PoolClient).release();
    }
  }

  async append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    if (rows.length === 0) return;
    await this.withClient(async (client) => {
      const lines = rows.map((r) => `${r.map(copyText).join('\t')}\n`);
      const sink = client.query(copy.from(`COPY ${table} FROM STDIN`));
      await pipeline(
        (async function* () {
          for (let i = 0; i < lines.length; i += 1024) yield lines.slice(i, i + 1024).join('');
        })(),
        sink,
      );
    });
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.owner.transaction(fn);
  }

  inList(expr: string, placeholder: string): string {
    return `${expr} = ANY(${placeholder}::TEXT[])`;
  }

  /**
   * A cursor over the query, its one text column written to files of about `fileBytes`: COPY TO STDOUT would be
   * faster but takes no bound parameters.
   */
  async exportLines(sql: string, params: readonly SqlValue[], dir: string, fileBytes: number): Promise<string[]> {
    mkdirSync(dir, { mode: 0o700 });
    const files: string[] = [];
    let fd: number | undefined;
    let written = 0;
    try {
      for await (const chunk of this.stream(sql, params)) {
        for (const row of chunk) {
          if (fd === undefined || written >= fileBytes) {
            if (fd !== undefined) closeSync(fd);
            const file = join(dir, `data_${String(files.length).padStart(5, '0')}.csv`);
            fd = openSync(file, 'wx', 0o600);
            files.push(file);
            written = 0;
          }
          const line = `${String(Object.values(row)[0] ?? '')}\n`;
          written += writeSync(fd, line);
        }
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return files;
  }

  async staged(files: readonly string[], columns: StageColumns, _longestLineBytes: number): Promise<string> {
    if (files.length === 0) throw new Error('staged needs at least one file');
    if (!this.inTransaction) return this.owner.transaction((tx) => tx.staged(files, columns, _longestLineBytes));
    const name = `hm_staged_${++this.stagedCount}`;
    const client = this.target as PoolClient;
    await this.run(
      `CREATE TEMPORARY TABLE ${name} (${columns.map(([c, t]) => `"${c}" ${PG_TYPE[t]}`).join(', ')}) ON COMMIT DROP`,
    );
    const options = `FORMAT csv, DELIMITER ${sqlString(STAGE_DELIMITER)}, QUOTE ${sqlString(STAGE_QUOTE)}, ESCAPE ${sqlString(STAGE_QUOTE)}, HEADER false`;
    for (const file of files) {
      try {
        await pipeline(createReadStream(file), client.query(copy.from(`COPY ${name} FROM STDIN (${options})`)));
      } catch (e) {
        throw withStatement(e, `COPY ${name} FROM ${file}`);
      }
    }
    return name;
  }

  async analyze(tables: readonly string[]): Promise<void> {
    if (tables.length > 0) await this.run(`ANALYZE ${tables.map((t) => `"${t}"`).join(', ')}`);
  }

  async index(table: string, columns: readonly string[]): Promise<void> {
    await this.run(`CREATE INDEX IF NOT EXISTS "${indexName(table, columns)}" ON "${table}" (${quoted(columns)})`);
  }

  async key(table: string, columns: readonly string[]): Promise<void> {
    // Citus enforces a unique index per shard only, so it refuses one without the distribution column: the key is
    // kept with that column added (one row per key and person), still named for the logical key.
    const by = this.owner.distributed ? await this.distributionColumn(table) : undefined;
    const kept = by === undefined || columns.includes(by) ? columns : [...columns, by];
    await this.run(
      `CREATE UNIQUE INDEX IF NOT EXISTS "${indexName(table, columns)}_key" ON "${table}" (${quoted(kept)})`,
    );
    // A plain index on the same columns is now redundant and would only slow writes.
    await this.run(`DROP INDEX IF EXISTS "${indexName(table, columns)}"`);
  }

  async distribute(table: string, column: string | null): Promise<void> {
    if (!this.owner.distributed) return;
    if (column === null) {
      await this.run('SELECT create_reference_table($1)', [table]);
      return;
    }
    // A table distributed by a later step than its keys (the resource store's, migration 6) has unique indexes
    // without the column, which Citus refuses: each is made again with the column added, under its own name (`key`).
    const lacking = (await this.uniqueIndexes(table)).filter((u) => !u.columns.includes(column));
    for (const u of lacking) await this.run(`DROP INDEX "${u.name}"`);
    await this.run('SELECT create_distributed_table($1, $2)', [table, column]);
    // Rows the table held were copied to the shards; the coordinator's local copy is only dead weight on its disk.
    await this.run('SELECT truncate_local_data_after_distributing_table($1)', [table]);
    for (const u of lacking) {
      await this.run(`CREATE UNIQUE INDEX "${u.name}" ON "${table}" (${quoted([...u.columns, column])})`);
    }
  }

  /** The unique indexes of `table` other than its primary key, with their columns in order. */
  private uniqueIndexes(table: string): Promise<{ name: string; columns: string[] }[]> {
    return this.all<{ name: string; columns: string[] }>(
      `SELECT i.relname AS name, array_agg(a.attname::TEXT ORDER BY k.ord) AS columns
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        CROSS JOIN LATERAL unnest(x.indkey::INT2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
        WHERE x.indrelid = $1::regclass AND x.indisunique AND NOT x.indisprimary
        GROUP BY i.relname`,
      [table],
    );
  }

  /** The column a Citus table is hash-distributed by; undefined for reference and coordinator-local tables. */
  private async distributionColumn(table: string): Promise<string | undefined> {
    const [row] = await this.all<{ col: string | null }>(
      `SELECT column_to_column_name(logicalrelid, partkey) AS col FROM pg_dist_partition
        WHERE logicalrelid = $1::regclass AND partmethod = 'h'`,
      [table],
    );
    return row?.col ?? undefined;
  }

  markWriting(): Promise<{ release(): Promise<void> }> {
    return this.owner.markWriting();
  }
  writesElsewhere(): Promise<number> {
    return this.owner.writesElsewhere();
  }

  private async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this.target as PoolClient);
    const client = await (this.target as Pool).connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.owner.close();
  }
}

/**
 * A worker of a Citus cluster that cannot be reached fails the whole statement (Citus never answers from the shards
 * it could reach); the driver's error becomes `STORE_NODE_UNAVAILABLE` so callers and clients see which fault it is.
 * Its message names no node: it reaches API clients, and a worker's host and port are the hub's internals. The
 * driver's error (which names them) stays the `cause`, which the server logs (`server/app.ts`).
 */
function storeError(e: unknown, sql: string, distributed: boolean): Error {
  const error = withStatement(e, sql);
  if (distributed && /connection to the remote node|could not connect to|connection not open/i.test(error.message)) {
    return new HealthmeshError(
      'STORE_NODE_UNAVAILABLE',
      'a worker node of the distributed store cannot be reached; the hub log names it, and `healthmesh cluster show` lists the nodes',
      {},
      { cause: error },
    );
  }
  return error;
}

/** A driver error with the statement's first line, so a failing query names itself (no values: they may be data). */
function withStatement(e: unknown, sql: string): Error {
  if (!(e instanceof Error)) return new Error(String(e));
  const first = sql.trim().split('\n')[0]!.slice(0, 160);
  e.message = `${e.message} (in: ${first})`;
  return e;
}

/**
 * PostgreSQL (`pg`): for hubs served by several processes. Reads go through a pool; writing transactions run on
 * one client each, serialised within the process and, by an advisory lock, across processes.
 */
/**
 * Connections each of the hub's sessions on a Citus coordinator opens to one worker for a statement, and keeps open
 * between transactions. Citus's defaults (up to 16 per statement, 1 kept) made every multi-shard statement open
 * new connections to each worker, each a new worker backend: an `INSERT … SELECT` of 2,000 rows into 32 shards took
 * 4.3 s that way and 0.2–0.4 s over connections kept (measured under load; docs/scale.md). Four per worker and per
 * session keeps a hub process's 8 sessions at 32 connections per worker, within PostgreSQL's default 100.
 */
export const CITUS_CONNECTIONS_PER_WORKER = 4;

/** The session settings (libpq `options`) of a hub's connections to a Citus coordinator. */
function citusSessionOptions(): string {
  const n = CITUS_CONNECTIONS_PER_WORKER;
  return `-c citus.max_adaptive_executor_pool_size=${n} -c citus.max_cached_conns_per_worker=${n}`;
}

export class PostgresDatabase implements Database {
  readonly engine = 'postgres' as const;
  readonly bodyType = BODY_TYPE;
  readonly types: PgApi.CustomTypesConfig;
  /**
   * Whether the database is a Citus coordinator (the `citus` extension is installed in it): migrations then spread
   * person-level tables over the workers (`distribute`). Read once at open.
   */
  readonly distributed: boolean;
  private readonly pool: Pool;
  private readonly session: PgSession;
  private readonly writers = new AsyncMutex();
  /** Writes of this process marked in flight (`markWriting`). */
  private marks = 0;
  /**
   * The session holding this process's marker while `marks` > 0: one connection of its own, outside the pool, so
   * concurrent writes never take the pool's connections from the transactions they wait for.
   */
  private markHolder: PgApi.Client | undefined;
  private readonly markLock = new AsyncMutex();

  private constructor(
    pool: Pool,
    private readonly url: string,
    distributed: boolean,
  ) {
    this.pool = pool;
    this.distributed = distributed;
    this.types = typeParsers();
    this.session = new PgSession(pool, this, false);
  }

  /** Connect to `url` (postgres://…; a unix socket as `?host=/dir`) and check that the server answers. */
  static async open(url: string, options: { maxConnections?: number } = {}): Promise<PostgresDatabase> {
    pg ??= (await import('pg')).default as unknown as typeof PgApi;
    copy ??= (await import('pg-copy-streams')).default as unknown as typeof CopyApi;
    Cursor ??= (await import('pg-cursor')).default as unknown as typeof CursorClass;
    const max = options.maxConnections ?? 8;
    let distributed = false;
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
      const { rows } = await probe.query<{ citus: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus",
      );
      distributed = rows[0]?.citus === true;
    } catch (e) {
      throw new HealthmeshError(
        'STORE_UNAVAILABLE',
        `cannot connect to the PostgreSQL store: ${e instanceof Error ? e.message : String(e)}`,
        {},
        { cause: e },
      );
    } finally {
      await probe.end().catch(() => undefined);
    }
    const pool = new pg.Pool({
      connectionString: url,
      max,
      ...(distributed && { options: citusSessionOptions() }),
    });
    // An idle client's error (the server restarting) must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    return new PostgresDatabase(pool, url, distributed);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<void> {
    return this.session.run(sql, params);
  }
  execute(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.session.execute(sql, params);
  }
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.session.all<T>(sql, params);
  }
  stream<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): AsyncIterable<T[]> {
    return this.session.stream<T>(sql, params);
  }
  append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.session.append(table, rows);
  }
  inList(expr: string, placeholder: string): string {
    return this.session.inList(expr, placeholder);
  }
  insertSelects(table: string, columns: readonly string[], selects: readonly string[], orderBy: string): Promise<void> {
    return this.session.insertSelects(table, columns, selects, orderBy);
  }
  exportLines(sql: string, params: readonly SqlValue[], dir: string, fileBytes: number): Promise<string[]> {
    return this.session.exportLines(sql, params, dir, fileBytes);
  }
  staged(files: readonly string[], columns: StageColumns, longestLineBytes: number): Promise<string> {
    return this.session.staged(files, columns, longestLineBytes);
  }

  analyze(tables: readonly string[]): Promise<void> {
    return this.session.analyze(tables);
  }
  index(table: string, columns: readonly string[]): Promise<void> {
    return this.session.index(table, columns);
  }
  key(table: string, columns: readonly string[]): Promise<void> {
    return this.session.key(table, columns);
  }
  distribute(table: string, column: string | null): Promise<void> {
    return this.session.distribute(table, column);
  }

  /**
   * A shared session-level advisory lock, held for all of this process's writes in flight by one session of its own:
   * visible to every process in `pg_locks`, dropped by the server if this process dies.
   */
  async markWriting(): Promise<{ release(): Promise<void> }> {
    await this.markLock.lock(async () => {
      if (this.marks === 0) {
        const client = new pg.Client({ connectionString: this.url });
        // The server may drop this long-held session (restart, termination): its lock goes with it, and the error
        // must not escape as an unhandled event.
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT pg_advisory_lock_shared($1, $2)', WRITE_MARK);
        } catch (e) {
          await client.end().catch(() => undefined);
          throw e;
        }
        this.markHolder = client;
      }
      this.marks++;
    });
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await this.markLock.lock(async () => {
          this.marks--;
          if (this.marks > 0 || !this.markHolder) return;
          const holder = this.markHolder;
          this.markHolder = undefined;
          await holder.end().catch(() => undefined); // ending the session drops its lock
        });
      },
    };
  }

  async writesElsewhere(): Promise<number> {
    // One granted row per process with writes in flight; this process's own session is left out by its pid.
    const own = (this.markHolder as unknown as { processID?: number } | undefined)?.processID ?? -1;
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted AND pid <> $3
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [...WRITE_MARK, own],
    );
    return Number(rows[0]?.n ?? 0);
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    return this.writers.lock(async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [WRITER_LOCK_KEY]);
        const result = await fn(new PgSession(client, this, true));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    });
  }

  async close(): Promise<void> {
    await this.markHolder?.end().catch(() => undefined);
    this.markHolder = undefined;
    await this.pool.end();
  }
}

/** Identifiers past 63 bytes are cut by the server; the column count keeps two cut names apart. */
function indexName(table: string, columns: readonly string[]): string {
  return `${`${table}_${columns.join('_')}`.replace(/[^a-z0-9_]/gi, '_').slice(0, 50)}_${columns.length}`;
}

function quoted(columns: readonly string[]): string {
  return columns.map((c) => `"${c}"`).join(', ');
}
