import { binder, versionJoin } from './current-versions.js';
import type { Database, SqlValue } from './database.js';

/**
 * A record a caller keeps of the versions it has seen: SQL for a relation (a FROM item) over the caller's own
 * tables with columns `id`, `version` and `shard_key` (the resource's shard key when it was seen: its patient key,
 * or `''`), at most one row per id, such as `(SELECT id, version, shard_key FROM my_seen WHERE reader = ${bind(name)})`.
 * `bind` turns a value into a placeholder of the statement the relation is put into. The store joins the record to
 * its heads by (id, shard key): on a Citus cluster a record distributed by its shard key then joins within each
 * shard. A resource whose patient changed since is therefore not seen under its new key; `vanishedIds` names it, so
 * the reader can drop what it holds of it first.
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
  /** The resource's shard key: its patient key, or `''` outside every patient's compartment. */
  shardKey: string;
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
  const joins = q.seen
    .map((relation, i) => `LEFT JOIN ${relation(bind)} s${i} ON s${i}.id = h.id AND s${i}.shard_key = h.shard_key`)
    .join(' ');
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
      shardKey: String(row.shard_key),
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
 * milliseconds, "k": shard key, "s": [the version each reader had seen, or null], "r": the stored body}`. Stored bodies are
 * single-line JSON (the store refuses any other), so they go out as they are: a defensive replace of line feeds
 * doubled the export's CPU.
 */
export async function exportChanged(db: Database, q: ChangedQuery, dir: string, fileBytes: number): Promise<string[]> {
  const { sql, params } = changedCte(db, q);
  const seen =
    q.seen.length === 0 ? "''" : q.seen.map((_, i) => `COALESCE(CAST(c.s${i} AS VARCHAR), 'null')`).join(` || ',' || `);
  const query = `${sql}
    SELECT '{"i":' || CAST(to_json(c.id) AS VARCHAR) || ',"v":' || CAST(c.version AS VARCHAR)
      || ',"t":' || CAST(CAST(EXTRACT(EPOCH FROM c.last_updated) * 1000 AS BIGINT) AS VARCHAR)
      || ',"k":' || CAST(to_json(c.shard_key) AS VARCHAR) || ',"s":[' || ${seen} || '],"r":' || v.content || '}'
    FROM changed c ${versionJoin('c', '$1')}`;
  return db.exportLines(query, params, dir, fileBytes);
}

/**
 * The ids of a reader's record that are no current resource of the type under the shard key it recorded: resources
 * gone from the store, and resources whose patient changed since the reader saw them (their current head sits under
 * another shard key, where `changedCte` does not find the record). `ids` narrows it to those ids.
 */
export async function vanishedIds(
  db: Database,
  type: string,
  seen: SeenVersions,
  ids?: readonly string[],
): Promise<string[]> {
  if (ids?.length === 0) return [];
  const { params, bind } = binder();
  const relation = seen(bind);
  const only = ids ? `AND ${db.inList('s.id', bind([...ids]))}` : '';
  // An anti-join rather than NOT EXISTS: Citus runs no correlated subquery from a coordinator-local relation into a
  // distributed table (the heads). On the shard key too, so a record distributed by it joins within each shard.
  const rows = await db.all<{ id: string }>(
    `SELECT s.id FROM ${relation} s
      LEFT JOIN (SELECT id, shard_key FROM resource_head WHERE type = ${bind(type)}) h
        ON h.id = s.id AND h.shard_key = s.shard_key
      WHERE h.id IS NULL ${only}`,
    params,
  );
  return rows.map((r) => String(r.id));
}
