import { binder, versionJoin } from './current-versions.js';
import type { Database, SqlValue } from './database.js';

/**
 * A record a caller keeps of the versions it has seen: SQL for a relation (a FROM item) over the caller's own
 * tables with columns `id` and `version`, at most one row per id, such as
 * `(SELECT id, version FROM my_seen WHERE reader = ${bind(name)})`. `bind` turns a value into a placeholder of
 * the statement the relation is put into.
 */
export type SeenVersions = (bind: (value: SqlValue) => string) => string;

/** The current resources of one type that some reader has not seen at their current version. */
export interface ChangedQuery {
  type: string;
  /**
   * One record per reader (a view, say): a resource is changed when any of them lacks it or holds another version.
   * With none, every current resource of the type is.
   */
  seen: readonly SeenVersions[];
  /** Only these ids (default: every current resource of the type). */
  ids?: readonly string[];
}

/** A changed resource: its current version and body, and the version each reader had seen (null: none). */
export interface ChangedVersion {
  id: string;
  version: number;
  lastUpdated: Date;
  seen: (number | null)[];
  content: string;
}

/**
 * A WITH clause defining `changed` (type, id, version, last_updated, s0, s1, ...: the version reader i had seen)
 * over the heads alone: bodies are joined only to the changed ones, so a refresh with little to do does not read
 * every body.
 */
function changedCte(db: Database, q: ChangedQuery): { sql: string; params: SqlValue[] } {
  const { params, bind } = binder();
  bind(q.type);
  const joins = q.seen.map((relation, i) => `LEFT JOIN ${relation(bind)} s${i} ON s${i}.id = h.id`).join(' ');
  const seen = q.seen.map((_, i) => `, s${i}.version AS s${i}`).join('');
  const changed =
    q.seen.length === 0
      ? 'TRUE'
      : q.seen.map((_, i) => `s${i}.version IS NULL OR s${i}.version <> h.version`).join(' OR ');
  const only = q.ids ? `AND ${db.inList('h.id', bind([...q.ids]))}` : '';
  return {
    sql: `WITH changed AS (SELECT h.id, h.version, h.last_updated, h.shard_key${seen} FROM resource_head h
        ${joins} WHERE h.type = $1 AND (${changed}) ${only})`,
    params,
  };
}

/** How many current resources of the type are changed for some reader. */
export async function countChanged(db: Database, q: ChangedQuery): Promise<number> {
  if (q.ids?.length === 0) return 0;
  const { sql, params } = changedCte(db, q);
  const [row] = await db.all<{ n: unknown }>(`${sql} SELECT COUNT(*) AS n FROM changed`, params);
  return Number(row?.n ?? 0);
}

/** The changed resources with their bodies, in chunks as the engine streams them (in no particular order). */
export async function* streamChanged(db: Database, q: ChangedQuery): AsyncIterable<ChangedVersion[]> {
  if (q.ids?.length === 0) return;
  const { sql, params } = changedCte(db, q);
  const query = `${sql} SELECT c.*, v.content FROM changed c ${versionJoin('c', '$1')}`;
  for await (const chunk of db.stream<Record<string, unknown>>(query, params)) {
    yield chunk.map((row) => ({
      id: String(row.id),
      version: Number(row.version),
      lastUpdated: row.last_updated instanceof Date ? row.last_updated : new Date(String(row.last_updated)),
      seen: q.seen.map((_, i) => {
        const s = row[`s${i}`];
        return s === null || s === undefined ? null : Number(s);
      }),
      content: String(row.content),
    }));
  }
}

/**
 * Write the changed resources to files in the folder `dir` (which must not exist yet) with the engine's own
 * threads (`Database.exportLines`), one JSON object per line: `{"i": id, "v": version, "t": last updated in epoch
 * milliseconds, "s": [the version each reader had seen, or null], "r": the stored body}`. Stored bodies are
 * single-line JSON (the store refuses any other), so they go out as they are: a defensive replace of line feeds
 * doubled the export's CPU.
 */
export async function exportChanged(db: Database, q: ChangedQuery, dir: string, fileBytes: number): Promise<string[]> {
  const { sql, params } = changedCte(db, q);
  const seen =
    q.seen.length === 0 ? "''" : q.seen.map((_, i) => `COALESCE(CAST(c.s${i} AS VARCHAR), 'null')`).join(` || ',' || `);
  const query = `${sql}
    SELECT '{"i":' || CAST(to_json(c.id) AS VARCHAR) || ',"v":' || CAST(c.version AS VARCHAR)
      || ',"t":' || CAST(CAST(EXTRACT(EPOCH FROM c.last_updated) * 1000 AS BIGINT) AS VARCHAR) || ',"s":[' || ${seen} || '],"r":' || v.content || '}'
    FROM changed c ${versionJoin('c', '$1')}`;
  return db.exportLines(query, params, dir, fileBytes);
}

/** The ids of a reader's record that are no current resource of the type (resources gone from the store). */
export async function vanishedIds(db: Database, type: string, seen: SeenVersions): Promise<string[]> {
  const { params, bind } = binder();
  const relation = seen(bind);
  // An anti-join rather than NOT EXISTS: Citus runs no correlated subquery from a coordinator-local relation (the
  // reader's) into a distributed table (the heads).
  const rows = await db.all<{ id: string }>(
    `SELECT s.id FROM ${relation} s LEFT JOIN (SELECT id FROM resource_head WHERE type = ${bind(type)}) h ON h.id = s.id
      WHERE h.id IS NULL`,
    params,
  );
  return rows.map((r) => String(r.id));
}
