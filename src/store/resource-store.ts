import { HealthmeshError } from '../core/index.js';
import type { SearchRows } from '../fhir/index.js';
import type { Database, SqlValue } from './database.js';
import type { StagedBatch, StagedWriteCounts } from './staged-write.js';
import { writeStagedBatch } from './staged-write.js';
import type { Head, WriteKey, WriteResult } from './write-plan.js';
import { countVersions, dropMovedHeads, headKey as key, planWrites } from './write-plan.js';

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
      versionRows.push([r.type, r.id, s.version, now, r.patientKey, r.hash, r.source, r.content]);
      if (!s.indexed) continue;
      for (const [param, system, code] of r.search.tokens) tokenRows.push([r.type, r.id, param, system, code]);
      for (const [param, low, high] of r.search.dates) dateRows.push([r.type, r.id, param, low, high]);
      for (const [param, target] of r.search.references) refRows.push([r.type, r.id, param, target]);
    }
    await tx.append('resource_version', versionRows);
    await countVersions(tx, versionRows.length);
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
      `SELECT v.type, v.id, v.version, v.last_updated, v.patient_key, v.content
         FROM resource_head h JOIN resource_version v ON v.type = h.type AND v.id = h.id AND v.version = h.version
        WHERE h.type = $1 AND h.id = $2`,
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

  /**
   * How many versions the store has committed: grows by one with every created or changed resource and never
   * shrinks (versions are never deleted), so derived tables record it to tell whether they reflect every write.
   */
  async writeStamp(): Promise<number> {
    // A counter kept by every write, not COUNT(*): every reader checks it, and PostgreSQL counts by scanning.
    const [r] = await this.db.all<{ n: unknown }>('SELECT n FROM store_stamp');
    return Number(r?.n ?? 0);
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
