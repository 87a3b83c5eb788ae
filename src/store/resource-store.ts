import { HealthmeshError } from '../core/index.js';
import type { SearchRows } from '../fhir/index.js';
import type { ChangedQuery, ChangedVersion, SeenVersions } from './changed-versions.js';
import { countChanged, exportChanged, streamChanged, vanishedIds } from './changed-versions.js';
import type { CurrentScope } from './current-versions.js';
import { binder, CURRENT_VERSIONS, scopeConditions, VERSION_COLUMNS } from './current-versions.js';
import type { Database, SqlValue } from './database.js';
import { shardKey } from './resource-schema.js';
import type { StagedBatch, StagedWriteCounts } from './staged-write.js';
import { writeStagedBatch } from './staged-write.js';
import type { Head, WriteKey, WriteResult } from './write-plan.js';
import { addToWriteStamp, dropMovedHeads, headKey as key, planWrites } from './write-plan.js';

/** One resource ready to store: pseudonymised, with its stored id, serialised body and content hash. */
export interface ResourceWrite extends WriteKey {
  source: string;
  /**
   * JSON of the resource without meta.versionId / meta.lastUpdated (those come from the columns), on one line as
   * JSON.stringify writes it: bulk exports and the staging format rely on a body never holding a line feed.
   */
  content: string;
  search: SearchRows;
  /**
   * A Patient's linkage token, derived at ingest before de-identification removed the identifier. The resource
   * store does not keep it; the ingest writes it to the person-linkage table in the same transaction.
   */
  linkage?: { token: string; keyId: string };
}

const typeAndId = (r: WriteKey): [string, string] => [r.type, r.id];

export interface StoredVersion {
  type: string;
  id: string;
  version: number;
  lastUpdated: Date;
  patientKey: string | null;
  content: string;
}

const LOOKUP_CHUNK = 50_000;

/** A summary of current resources that changes whenever one of them does (`ResourceStore.currentSummary`). */
export interface CurrentSummary {
  /** How many current resources. */
  count: number;
  /** The latest last-updated time among them (null: none). */
  lastUpdated: Date | null;
  /** The sum of their version numbers (null: none). */
  versionSum: number | null;
}

/** How to order a stream of current versions: by type then id, or by patient key. */
export type CurrentOrder = 'id' | 'patient';

/** Parse a stored version back into a FHIR resource with its meta.versionId and meta.lastUpdated. */
export function toResource(v: StoredVersion): Record<string, unknown> {
  const resource = JSON.parse(v.content) as Record<string, unknown>;
  const meta = (resource.meta ?? {}) as Record<string, unknown>;
  resource.meta = { ...meta, versionId: String(v.version), lastUpdated: v.lastUpdated.toISOString() };
  return resource;
}

/**
 * Versioned FHIR resources: one row per version, idempotent by content hash. A call to `write` is one
 * transaction: the whole batch lands or none of it does.
 */
export class ResourceStore {
  constructor(readonly db: Database) {}

  /** After a bulk write: the planner's statistics of the store's tables (see `Database.analyze`). */
  analyze(): Promise<void> {
    return this.db.analyze(['resource_version', 'resource_head', 'search_token', 'search_date', 'search_reference']);
  }

  /**
   * Store a batch. A record whose hash equals its current version's is `unchanged` and writes nothing; the
   * same resource twice in one batch yields two versions only if the content differs.
   */
  async write(records: readonly ResourceWrite[], now: Date, tx?: Database): Promise<WriteResult[]> {
    if (!tx) return this.db.transaction((t) => this.write(records, now, t));
    for (const r of records) {
      if (r.content.includes('\n')) {
        throw new HealthmeshError(
          'STORE_CONTENT_NOT_ONE_LINE',
          `${r.type}/${r.id}: the body holds a line feed (the store keeps single-line JSON, as JSON.stringify writes)`,
          {},
        );
      }
    }
    const plan = planWrites(records, await this.heads(tx, records.map(typeAndId)), now);
    if (plan.stored.length === 0) return plan.results;
    const versionRows: SqlValue[][] = [];
    const tokenRows: SqlValue[][] = [];
    const dateRows: SqlValue[][] = [];
    const refRows: SqlValue[][] = [];
    for (const s of plan.stored) {
      const r = records[s.index]!;
      const shard = shardKey(r.patientKey);
      versionRows.push([r.type, r.id, s.version, now, r.patientKey, r.hash, r.source, r.content, shard]);
      if (!s.indexed) continue;
      for (const [param, system, code] of r.search.tokens) tokenRows.push([r.type, r.id, param, system, code, shard]);
      for (const [param, low, high] of r.search.dates) dateRows.push([r.type, r.id, param, low, high, shard]);
      for (const [param, target] of r.search.references) refRows.push([r.type, r.id, param, target, shard]);
    }
    await tx.append('resource_version', versionRows);
    await addToWriteStamp(tx, versionRows.length);
    await dropMovedHeads(tx, { list: plan.moved });
    await tx.append('resource_head', plan.heads);
    await tx.append('search_token', tokenRows);
    await tx.append('search_date', dateRows);
    await tx.append('search_reference', refRows);
    return plan.results;
  }

  /**
   * Store a batch whose records, bodies and search rows were staged as files (`StagedRowsWriter`, in the ingest's
   * worker threads): the engine reads and decides them itself, so nothing of them passes through this thread. Same
   * rules and the same one transaction as `write` (the caller's `tx` when given); returns counts per type and
   * status; the staged files are left for the caller to remove.
   */
  async writeStaged(batch: StagedBatch, now: Date, tx?: Database): Promise<StagedWriteCounts> {
    if (tx) return writeStagedBatch(tx, batch, now);
    return this.db.transaction((t) => writeStagedBatch(t, batch, now));
  }

  /**
   * Current version and hash of each (type, id) that exists. Stored ids are keyed hashes that include the type,
   * so one query by id serves every type (one query per type cost 16 scans per batch); the type is checked here.
   */
  async heads(db: Database, keys: readonly (readonly [string, string])[]): Promise<Map<string, Head>> {
    const out = new Map<string, Head>();
    const wanted = new Set(keys.map(([type, id]) => key(type, id)));
    const ids = [...new Set(keys.map(([, id]) => id))];
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const rows = await db.all<{ type: string; id: string; version: number; hash: string }>(
        `SELECT type, id, version, hash FROM resource_head WHERE ${db.inList('id', '$1')}`,
        [ids.slice(i, i + LOOKUP_CHUNK)],
      );
      for (const row of rows) {
        const k = key(row.type, row.id);
        if (wanted.has(k)) out.set(k, { version: row.version, hash: row.hash });
      }
    }
    return out;
  }

  /** Which of `keys` exist in the store (as `Type/id`). */
  async existing(keys: readonly (readonly [string, string])[], db: Database = this.db): Promise<Set<string>> {
    return new Set((await this.heads(db, keys)).keys());
  }

  async read(type: string, id: string): Promise<StoredVersion | undefined> {
    const rows = await this.db.all(
      `SELECT ${VERSION_COLUMNS} FROM ${CURRENT_VERSIONS} WHERE h.type = $1 AND h.id = $2`,
      [type, id],
    );
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async vread(type: string, id: string, version: number): Promise<StoredVersion | undefined> {
    const rows = await this.db.all(
      `SELECT type, id, version, last_updated, patient_key, content FROM resource_version
        WHERE type = $1 AND id = $2 AND version = $3`,
      [type, id, version],
    );
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Every version of one resource, newest first. */
  async history(type: string, id: string): Promise<StoredVersion[]> {
    const rows = await this.db.all(
      `SELECT type, id, version, last_updated, patient_key, content FROM resource_version
        WHERE type = $1 AND id = $2 ORDER BY version DESC`,
      [type, id],
    );
    return rows.map(fromRow);
  }

  /** Number of current resources per type. */
  async countByType(): Promise<Record<string, number>> {
    const rows = await this.db.all<{ type: string; n: number }>(
      'SELECT type, COUNT(*) AS n FROM resource_head GROUP BY type ORDER BY type',
    );
    return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
  }

  /** Number of current resources of one type. */
  async count(type: string): Promise<number> {
    const [r] = await this.db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM resource_head WHERE type = $1', [type]);
    return Number(r?.n ?? 0);
  }

  /** Number of stored versions, current or not: a counter each write adds to (`store_stamp`), not COUNT(*). */
  async countVersions(): Promise<number> {
    // Every reader checks it (`writeStamp`), and PostgreSQL counts rows by scanning.
    const [r] = await this.db.all<{ n: unknown }>('SELECT n FROM store_stamp');
    return Number(r?.n ?? 0);
  }

  /**
   * How many versions the store has committed: grows by one with every created or changed resource and never
   * shrinks (versions are never deleted), so derived tables record it to tell whether they reflect every write.
   */
  writeStamp(): Promise<number> {
    return this.countVersions();
  }

  /**
   * Count, latest update and version sum of the current resources (of one type, when given): a cheap stamp of
   * them for a cache, over the heads alone.
   */
  async currentSummary(type?: string): Promise<CurrentSummary> {
    const [r] = await this.db.all<{ n: unknown; last: unknown; versions: unknown }>(
      `SELECT COUNT(*) AS n, MAX(last_updated) AS last, SUM(version) AS versions FROM resource_head${
        type === undefined ? '' : ' WHERE type = $1'
      }`,
      type === undefined ? [] : [type],
    );
    const last = r?.last ?? null;
    return {
      count: Number(r?.n ?? 0),
      lastUpdated: last === null || last instanceof Date ? last : new Date(String(last)),
      versionSum: r?.versions === null || r?.versions === undefined ? null : Number(r.versions),
    };
  }

  /**
   * How many people with current resources in `scope` the condition `allows` (SQL on a patient-key column, such as
   * a consent filter's) leaves out.
   */
  async countLeftOut(scope: CurrentScope, allows: (column: string) => string): Promise<number> {
    const { params, bind } = binder();
    const where = scopeConditions(this.db, scope, bind);
    where.push('h.patient_key IS NOT NULL', `NOT (${allows('h.patient_key')})`);
    const [r] = await this.db.all<{ n: unknown }>(
      `SELECT COUNT(DISTINCT h.patient_key) AS n FROM resource_head h WHERE ${where.join(' AND ')}`,
      params,
    );
    return Number(r?.n ?? 0);
  }

  /**
   * The current versions in `scope`, in chunks as the engine streams them, so memory stays bounded however many
   * match. With `allows` (SQL on a patient-key column, such as a consent filter's), only resources of no patient
   * or of a patient it allows.
   */
  async *streamCurrent(
    scope: CurrentScope,
    options: { order: CurrentOrder; allows?: (column: string) => string },
  ): AsyncIterable<StoredVersion[]> {
    const { params, bind } = binder();
    const where = scopeConditions(this.db, scope, bind);
    if (options.allows) where.push(`(h.patient_key IS NULL OR ${options.allows('h.patient_key')})`);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const order = options.order === 'id' ? 'h.type, h.id' : 'h.patient_key';
    const sql = `SELECT ${VERSION_COLUMNS} FROM ${CURRENT_VERSIONS} ${filter} ORDER BY ${order}`;
    for await (const chunk of this.db.stream(sql, params)) yield chunk.map(fromRow);
  }

  /** How many current resources of `q.type` some reader has not seen at their current version. */
  countChanged(q: ChangedQuery): Promise<number> {
    return countChanged(this.db, q);
  }

  /** The current resources of `q.type` some reader has not seen at their current version, with their bodies. */
  streamChanged(q: ChangedQuery): AsyncIterable<ChangedVersion[]> {
    return streamChanged(this.db, q);
  }

  /**
   * The changed resources of `q.type` written by the engine to files in `dir` (which must not exist yet), about
   * `fileBytes` each, one JSON line per resource (format: `exportChanged` in changed-versions.ts); returns the files.
   */
  exportChanged(q: ChangedQuery, dir: string, fileBytes: number): Promise<string[]> {
    return exportChanged(this.db, q, dir, fileBytes);
  }

  /**
   * The ids of a reader's record that are no current resource of `type` under the shard key it recorded (gone, or
   * moved to another patient since); `ids` narrows it to those ids.
   */
  vanishedIds(type: string, seen: SeenVersions, ids?: readonly string[]): Promise<string[]> {
    return vanishedIds(this.db, type, seen, ids);
  }
}

/** Map a SQL row (snake_case columns) to a StoredVersion. */
export function fromRow(row: Record<string, unknown>): StoredVersion {
  return {
    type: String(row.type),
    id: String(row.id),
    version: Number(row.version),
    lastUpdated: row.last_updated instanceof Date ? row.last_updated : new Date(String(row.last_updated)),
    patientKey: (row.patient_key as string | null) ?? null,
    content: String(row.content),
  };
}
